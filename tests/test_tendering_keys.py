"""The call keys (k-of-n Shamir over the key-encryption key), the sealed envelope, and the
rule that decides which tenders count: bytes and values in, no database."""

from __future__ import annotations

import base64
import datetime as dt
import itertools

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from edi_gateway.tendering import keys, receipts
from edi_gateway.tendering.common import still_sealed
from edi_gateway.tendering.detect import Shape, TenderRef, might_be_tender, tender_reference
from edi_gateway.tendering.signing import GatewayKey
from edi_gateway.tendering.standing import Filed, Outcome, Withdrawal, standing
from tests.support import SHARED


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 7), data=st.data())
def test_any_k_shares_open_and_k_minus_one_never_do(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(1, n))
    made = keys.create_call_keys("CALL", k, n)
    assert len(made.shares) == n and len(set(made.shares)) == n
    chosen = data.draw(st.permutations(made.shares))[:k]
    private = keys.unwrap_private_key("CALL", made.key_id, made.wrapped_key, k, chosen)
    envelope = keys.seal(b"a tender", made.public_key, b"aad")
    assert keys.unseal(envelope, private, b"aad") == b"a tender"
    if k > 1:
        with pytest.raises(keys.SharesRejected, match=f"needs {k}"):
            keys.unwrap_private_key("CALL", made.key_id, made.wrapped_key, k, chosen[:-1])


def test_every_two_of_three_open_and_the_call_id_is_bound() -> None:
    made = keys.create_call_keys("CALL-1", 2, 3)
    opened = set()
    for pair in itertools.combinations(made.shares, 2):
        private = keys.unwrap_private_key("CALL-1", made.key_id, made.wrapped_key, 2, list(pair))
        opened.add(private.public_key().public_bytes_raw())
    assert opened == {made.public_key}
    with pytest.raises(keys.SharesRejected, match="do not open"):  # the wrapped key of another call
        keys.unwrap_private_key("CALL-2", made.key_id, made.wrapped_key, 2, made.shares[:2])


def test_lying_about_k_does_not_help() -> None:
    """The quorum comes from the register: one share with threshold=1 rebuilds nothing."""
    made = keys.create_call_keys("CALL", 3, 5)
    with pytest.raises(keys.SharesRejected, match="do not open"):
        keys.unwrap_private_key("CALL", made.key_id, made.wrapped_key, 1, made.shares[:1])
    with pytest.raises(keys.SharesRejected, match="do not open"):
        keys.unwrap_private_key("CALL", made.key_id, made.wrapped_key, 2, made.shares[:2])


@pytest.mark.parametrize(
    "share",
    ["", "egw-share-xyz", "egw-share-0000000000000000-1-" + "A" * 43, "egw-share-{kid}-1-short"],
)
def test_malformed_or_foreign_shares_are_refused(share: str) -> None:
    made = keys.create_call_keys("CALL", 1, 1)
    with pytest.raises(keys.SharesRejected):
        keys.unwrap_private_key(
            "CALL", made.key_id, made.wrapped_key, 1, [share.format(kid=made.key_id)]
        )


def test_an_envelope_is_bound_to_its_key_and_call_and_tampering_shows() -> None:
    a, b = keys.create_call_keys("A", 1, 1), keys.create_call_keys("B", 1, 1)
    pa = keys.unwrap_private_key("A", a.key_id, a.wrapped_key, 1, a.shares)
    pb = keys.unwrap_private_key("B", b.key_id, b.wrapped_key, 1, b.shares)
    sealed = keys.seal(b"x" * 1000, a.public_key, b"egw-tender|A")
    assert b"x" * 16 not in sealed
    assert keys.unseal(sealed, pa, b"egw-tender|A") == b"x" * 1000
    with pytest.raises(keys.NotSealed):
        keys.unseal(sealed, pb, b"egw-tender|A")
    with pytest.raises(keys.NotSealed):
        keys.unseal(sealed, pa, b"egw-tender|B")
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(keys.NotSealed):
        keys.unseal(flipped, pa, b"egw-tender|A")
    with pytest.raises(keys.NotSealed):
        keys.unseal(b"plain text", pa, b"")
    # two seals of the same bytes differ (fresh data key and nonces each time)
    assert keys.seal(b"same", a.public_key, b"") != keys.seal(b"same", a.public_key, b"")


def test_k_and_n_are_checked() -> None:
    for k, n in [(0, 3), (4, 3), (1, 256)]:
        with pytest.raises(ValueError):
            keys.create_call_keys("CALL", k, n)


# -- which tenders count --------------------------------------------------------------------

T0 = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
DEADLINE = T0 + dt.timedelta(hours=1)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def test_the_last_on_time_action_of_each_tenderer_counts() -> None:
    filed = [
        Filed("a1", "a", at(1), True),
        Filed("a2", "a", at(2), True),
        Filed("a3", "a", at(61), False),  # late: the earlier one still counts
        Filed("b1", "b", at(1), True),
        Filed("c1", "c", at(1), True),
        Filed("c2", "c", at(5), True),
        Filed("d1", "d", at(3), True, duplicate=True),
        Filed("x1", None, at(1), True),
        Filed("x2", None, at(2), True),  # anonymous submissions stand alone
    ]
    withdrawals = [
        Withdrawal("b", at(2)),
        Withdrawal("c", at(3)),  # then c submitted again: c2 counts
        Withdrawal("a", at(61)),  # after the deadline: ignored
    ]
    assert standing(filed, withdrawals, DEADLINE) == {
        "a1": Outcome.REPLACED,
        "a2": Outcome.COUNTED,
        "a3": Outcome.LATE,
        "b1": Outcome.WITHDRAWN,
        "c1": Outcome.REPLACED,
        "c2": Outcome.COUNTED,
        "d1": Outcome.DUPLICATE,
        "x1": Outcome.COUNTED,
        "x2": Outcome.COUNTED,
    }


def test_a_withdrawal_at_the_same_instant_as_the_tender_withdraws_it() -> None:
    result = standing([Filed("a1", "a", at(5), True)], [Withdrawal("a", at(5))], DEADLINE)
    assert result == {"a1": Outcome.WITHDRAWN}


# -- which payloads are tenders, and for which call -------------------------------------------

UBL = (
    b'<?xml version="1.0"?><Tender xmlns="urn:oasis:names:specification:ubl:schema:xsd:Tender-2"'
    b' xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">'
    b"<cbc:ID>T1</cbc:ID><cbc:ContractFolderID> CFT-9 </cbc:ContractFolderID></Tender>"
)
SBDH = (
    b'<StandardBusinessDocument xmlns="http://www.unece.org/cefact/namespaces/'
    b'StandardBusinessDocumentHeader"><StandardBusinessDocumentHeader/>'
    + UBL.split(b"?>", 1)[1]
    + b"</StandardBusinessDocument>"
)
QUOTES = (
    b"UNA:+.? 'UNB+UNOC:3+8809876000015:14+EDIGATEWAY:ZZZ+261126:0900+1'"
    b"UNH+1+QUOTES:D:96A:UN'BGM+310+Q-1+9'RFF+AHU:CFT?+9'LIN+1'RFF+AHU:NOT-THIS'"
    b"UNT+5+1'UNZ+1+1'"
)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            b'{"kind": "tender", "references": [{"type": "call_for_tenders", "id": "CFT-9"}]}',
            TenderRef("CFT-9", Shape.JSON),
        ),
        (
            b'{"documents": [{"kind": "tender", "references": [{"type": "call_for_tenders",'
            b' "id": "CFT-9"}]}, {"kind": "order"}]}',
            TenderRef("CFT-9", Shape.JSON),
        ),
        (UBL, TenderRef("CFT-9", Shape.UBL)),
        (SBDH, TenderRef("CFT-9", Shape.UBL)),
        (QUOTES, TenderRef("CFT+9", Shape.EDIFACT)),
        (b'{"kind": "order", "references": [{"type": "call_for_tenders", "id": "CFT-9"}]}', None),
        (
            b'{"documents": [{"kind": "tender", "references": [{"type": "call_for_tenders", '
            b'"id": "A"}]}, {"kind": "tender", "references": [{"type": "call_for_tenders", '
            b'"id": "B"}]}]}',
            None,
        ),  # two calls in one payload: not sealed
        (b'{"kind": "tender"', None),
        (UBL.replace(b"Tender-2", b"Order-2"), None),
        (QUOTES.replace(b"QUOTES", b"ORDERS"), None),
        (b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>", None),
        (b"plain text", None),
    ],
)
def test_tender_reference(payload: bytes, expected: TenderRef | None) -> None:
    assert tender_reference(payload) == expected
    if expected is not None:
        assert might_be_tender(payload[:4096])


# -- receipts ---------------------------------------------------------------------------------

TENDER_RECEIPT_XSD = SHARED / "xml" / "ubl-2.2" / "xsdrt" / "maindoc" / "UBL-TenderReceipt-2.2.xsd"


@pytest.mark.parametrize("verdict", list(receipts.Verdict))
def test_ubl_receipt_is_a_valid_tender_receipt_carrying_its_signed_statement(
    verdict: receipts.Verdict,
) -> None:
    if not TENDER_RECEIPT_XSD.exists():
        pytest.skip("the UBL 2.2 schemas are not in ../shared")
    key = GatewayKey(Ed25519PrivateKey.generate())
    facts = receipts.ReceiptFacts(
        "01IC", "CFT-9", "hanil-office", at(61), DEADLINE, "ab" * 32, 1234, verdict, at(62), "01X"
    )
    content = receipts.build(facts, key, xml=True).content
    root = etree.fromstring(content)
    schema = etree.XMLSchema(etree.parse(str(TENDER_RECEIPT_XSD)))
    assert schema.validate(root), schema.error_log
    ns = {"egw": receipts.EGW}
    statement = base64.b64decode(root.findtext(".//egw:Statement", namespaces=ns) or "")
    signature = base64.b64decode(root.findtext(".//egw:Signature", namespaces=ns) or "")
    key.private.public_key().verify(signature, statement)
    assert statement == receipts.statement(facts)
    assert b"received: 2026-11-26T10:01:00.000000Z" in statement
    assert f"verdict: {verdict.value}".encode() in statement


def test_still_sealed_tells_ciphertext_from_plaintext() -> None:
    origin = {"sealed": {"call_id": "C"}, "plaintext_sha256": "p" * 64}
    assert still_sealed(origin, "c" * 64)  # the spool holds the envelope
    assert not still_sealed(origin, "p" * 64)  # opened: the spool holds the plaintext
    assert not still_sealed({"remote": "127.0.0.1"}, "c" * 64)
    assert not still_sealed(None, "c" * 64)
