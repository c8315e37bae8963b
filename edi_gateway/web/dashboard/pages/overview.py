"""The overview: what happened in the last hour and day, and what needs an operator."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from edi_gateway.web.dashboard import charts, i18n
from edi_gateway.web.dashboard import overview as figures
from edi_gateway.web.dashboard.context import Dashboard
from edi_gateway.web.dashboard.views import dashboard, language, render, requires


def _figures(d: Dashboard) -> dict[str, Any]:
    now = d.gateway.clock()
    with d.read() as s:
        hour = figures.state_counts(s, now - dt.timedelta(hours=1))
        day = figures.state_counts(s, now - dt.timedelta(days=1))
        series = figures.series(s, now)
        errors = figures.errors_by_partner(s, now - dt.timedelta(days=1))
        overdue_total, overdue = figures.overdue_acks(s, now)
        dead_messages, dead_items = figures.dead_counts(s)
    return {
        "now": now,
        "since_hour": (now - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "since_day": (now - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "hour": hour,
        "day": day,
        "series": series,
        "errors": errors,
        "overdue_total": overdue_total,
        "overdue": overdue,
        "dead_messages": dead_messages,
        "dead_items": dead_items,
        "queues": d.read_queues.stats(),
        "certificates": figures.certificates(d.gateway.config),
    }


def _charts(request: Request, data: dict[str, Any]) -> dict[str, Any]:
    t = i18n.translator(language(request))
    series: figures.Series = data["series"]
    return {
        "throughput_chart": charts.bars(
            series.throughput, series.labels, t("Throughput (interchanges per hour)")
        ),
        "latency_chart": charts.lines(
            [(t("median"), series.latency_p50), (t("p95"), series.latency_p95)],
            series.labels,
            t("Receive-to-queued latency (seconds, median and 95th percentile)"),
        ),
    }


async def home(request: Request) -> Response:
    return RedirectResponse("/overview", status_code=303)


@requires()
async def overview(request: Request) -> Response:
    data = await run_in_threadpool(_figures, dashboard(request))
    template = "overview_panel.html" if request.query_params.get("panel") else "overview.html"
    return render(request, template, page="overview", **data, **_charts(request, data))


@requires()
async def overview_json(request: Request) -> Response:
    data = await run_in_threadpool(_figures, dashboard(request))
    return JSONResponse(
        {
            "at": data["now"].isoformat(),
            "last_hour": data["hour"],
            "last_day": data["day"],
            "errors_by_partner": dict(data["errors"]),
            "overdue_acks": data["overdue_total"],
            "dead_messages": data["dead_messages"],
            "dead_letters": data["dead_items"],
            "queues": [
                {
                    "queue": q.queue,
                    "visible": q.visible,
                    "in_flight": q.in_flight,
                    "dead": q.dead,
                    "oldest": q.oldest.isoformat() if q.oldest else None,
                }
                for q in data["queues"]
            ],
        }
    )
