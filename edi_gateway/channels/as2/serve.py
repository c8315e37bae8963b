"""Run a gateway with its AS2 channel until SIGTERM/SIGINT, without the HTTP API.

Until `edi-gateway serve` starts the AS2 channel from gateway.toml's `[as2]` section, this is
how to run it (benchmarks and crash tests do):

    python -m edi_gateway.channels.as2.serve -c gateway.toml --as2 as2.toml

`as2.toml` holds an `[as2]` table (see `settings.As2Settings`).
"""

from __future__ import annotations

import argparse
import signal
import threading
import tomllib
from pathlib import Path

from edi_gateway import logs
from edi_gateway.app import Gateway, WorkerProcesses
from edi_gateway.channels.as2.channel import As2Channel
from edi_gateway.channels.as2.partners import as2_settings, load_station
from edi_gateway.channels.as2.settings import As2Settings
from edi_gateway.config import load


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-c", "--config", required=True, type=Path)
    parser.add_argument("--as2", type=Path, help="a TOML file with the [as2] table")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    config = load(args.config, args.database_url)
    logs.configure(config.settings.gateway.log_level)
    if args.as2 is not None:
        with args.as2.open("rb") as fh:
            settings = As2Settings.model_validate(tomllib.load(fh)["as2"])
    else:
        found = as2_settings(config)
        if found is None:
            raise SystemExit("no [as2] settings: pass --as2 FILE")
        settings = found
    gateway = Gateway(config)
    channel = As2Channel(gateway, load_station(settings, config.data_dir), settings)
    # pipeline worker processes beside this one, as `edi-gateway serve` runs them
    workers = WorkerProcesses(config, config.settings.worker.processes)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    gateway.recover()  # before any worker process may claim
    workers.start()
    gateway.start()
    channel.start()
    try:
        done.wait()
    finally:
        channel.stop()
        gateway.stop()
        workers.stop()


if __name__ == "__main__":
    main()
