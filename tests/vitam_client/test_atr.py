"""parse_atr on VITAM-shaped replies (OK, KO, refused upload, dry run) and on garbage."""

from __future__ import annotations

import pytest

from vitam_client import AtrError, parse_atr

OK_21 = b"""<?xml version="1.0" encoding="UTF-8"?>
<ArchiveTransferReply xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Date>2024-03-01T10:00:00.000Z</Date>
  <MessageIdentifier>aeeaaaaaachk7bs6abo3walwa3jx6vyaaaaq</MessageIdentifier>
  <ArchivalAgreement>IC-000001</ArchivalAgreement>
  <CodeListVersions/>
  <DataObjectPackage>
    <DataObjectGroup id="ID29">
      <BinaryDataObject id="ID30">
        <DataObjectSystemId>aeaaaaaaaahk7bs6abo3walwa3jyaqaaaaaq</DataObjectSystemId>
        <DataObjectGroupSystemId>aebaaaaaaahk7bs6abo3walwa3jyaqiaaaaq</DataObjectGroupSystemId>
        <DataObjectVersion>BinaryMaster_1</DataObjectVersion>
      </BinaryDataObject>
      <PhysicalDataObject id="ID31">
        <DataObjectSystemId>aeaaaaaaaahk7bs6abo3walwa3jyaqqaaaaq</DataObjectSystemId>
        <DataObjectGroupSystemId>aebaaaaaaahk7bs6abo3walwa3jyaqiaaaaq</DataObjectGroupSystemId>
        <DataObjectVersion>PhysicalMaster_1</DataObjectVersion>
      </PhysicalDataObject>
    </DataObjectGroup>
    <DescriptiveMetadata>
      <ArchiveUnit id="ID19"><Content><SystemId>aeaqaaaaaahk7bs6abo3walwa3jyaraaaaba</SystemId></Content></ArchiveUnit>
      <ArchiveUnit id="ID20"><Content><SystemId>aeaqaaaaaahk7bs6abo3walwa3jyaraaaaca</SystemId></Content></ArchiveUnit>
    </DescriptiveMetadata>
    <ManagementMetadata/>
  </DataObjectPackage>
  <ReplyCode>OK</ReplyCode>
  <MessageRequestIdentifier>SIP-2024-0001</MessageRequestIdentifier>
  <GrantDate>2024-03-01T10:00:01.000Z</GrantDate>
  <ArchivalAgency><Identifier>CINES</Identifier></ArchivalAgency>
  <TransferringAgency><Identifier>UNIV-DEMO</Identifier></TransferringAgency>
</ArchiveTransferReply>
"""

# Shaped like VITAM's sedaArchiveTransferReplyKO.xml: schema-invalid (no agencies), empty
# MessageRequestIdentifier, three KO events.
KO_21 = """<?xml version="1.0" encoding="UTF-8"?>
<ArchiveTransferReply xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1">
  <Date>2020-11-26T23:11:34.838Z</Date>
  <MessageIdentifier>aeeaaaaaachk7bs6abo3walwa3jx6vyaaaaq</MessageIdentifier>
  <CodeListVersions><ReplyCodeListVersion></ReplyCodeListVersion></CodeListVersions>
  <DataObjectPackage><DescriptiveMetadata/><ManagementMetadata/></DataObjectPackage>
  <ReplyCode>KO</ReplyCode>
  <Operation>
    <Event>
      <EventTypeCode>STP_INGEST_CONTROL_SIP</EventTypeCode>
      <EventType>Processus de contrôle du SIP</EventType>
      <EventDateTime>2020-11-26T23:11:34.307</EventDateTime>
      <Outcome>KO</Outcome>
      <OutcomeDetail>STP_INGEST_CONTROL_SIP.KO</OutcomeDetail>
      <OutcomeDetailMessage>Échec du processus du contrôle du bordereau du SIP</OutcomeDetailMessage>
    </Event>
    <Event>
      <EventTypeCode>CHECK_HEADER.CHECK_AGENT</EventTypeCode>
      <EventType>Vérification de la présence et du contrôle des services agents</EventType>
      <EventDateTime>2020-11-26T23:11:34.307</EventDateTime>
      <Outcome>KO</Outcome>
      <OutcomeDetail>CHECK_HEADER.CHECK_AGENT.UNKNOWN.KO</OutcomeDetail>
      <OutcomeDetailMessage>services agents inconnus</OutcomeDetailMessage>
    </Event>
  </Operation>
  <MessageRequestIdentifier></MessageRequestIdentifier>
  <GrantDate>2020-11-26T23:11:34.840Z</GrantDate>
</ArchiveTransferReply>
""".encode()

# Shaped like ATR_KO_DEFAULT.xml, the body of a 503 on POST /ingests.
REFUSED_UPLOAD_20 = b"""<?xml version="1.0" encoding="UTF-8"?>
<ArchiveTransferReply xmlns="fr:gouv:culture:archivesdefrance:seda:v2.0">
  <Date>2024-03-01T10:00:00Z</Date>
  <MessageIdentifier>aeeaaaaaachk7bs6abo3walwa3jx6vyaaaaq</MessageIdentifier>
  <CodeListVersions/>
  <DataObjectPackage>
    <DescriptiveMetadata/>
    <ManagementMetadata><ReplyOutcome><Event>
      <EventTypeCode>STP_UPLOAD_SIP</EventTypeCode><Outcome>KO</Outcome>
      <OutcomeDetail>STP_UPLOAD_SIP.KO</OutcomeDetail>
    </Event></ReplyOutcome></ManagementMetadata>
  </DataObjectPackage>
  <ReplyCode>KO</ReplyCode>
  <MessageRequestIdentifier>Unknown</MessageRequestIdentifier>
</ArchiveTransferReply>
"""


def test_ok_reply_gives_ids_and_mappings() -> None:
    atr = parse_atr(OK_21)
    assert atr.seda_version == "2.1"
    assert atr.reply_code == "OK"
    assert atr.accepted and not atr.is_test
    assert atr.operation_id == "aeeaaaaaachk7bs6abo3walwa3jx6vyaaaaq"
    assert atr.message_request_identifier == "SIP-2024-0001"
    assert atr.grant_date == "2024-03-01T10:00:01.000Z"
    assert atr.archival_agreement == "IC-000001"
    assert dict(atr.units) == {
        "ID19": "aeaqaaaaaahk7bs6abo3walwa3jyaraaaaba",
        "ID20": "aeaqaaaaaahk7bs6abo3walwa3jyaraaaaca",
    }
    assert dict(atr.objects) == {
        "ID30": "aeaaaaaaaahk7bs6abo3walwa3jyaqaaaaaq",
        "ID31": "aeaaaaaaaahk7bs6abo3walwa3jyaqqaaaaq",
    }
    assert atr.events == ()


def test_ko_reply_is_read_leniently() -> None:
    atr = parse_atr(KO_21)
    assert atr.reply_code == "KO"
    assert not atr.accepted
    assert atr.message_request_identifier is None  # empty element
    assert atr.archival_agreement is None
    assert atr.units == {} and atr.objects == {}
    assert [e.detail for e in atr.events] == [
        "STP_INGEST_CONTROL_SIP.KO",
        "CHECK_HEADER.CHECK_AGENT.UNKNOWN.KO",
    ]
    agent = atr.events[1]
    assert agent.type_code == "CHECK_HEADER.CHECK_AGENT"
    assert agent.type == "Vérification de la présence et du contrôle des services agents"
    assert agent.outcome == "KO"
    assert agent.message == "services agents inconnus"
    assert agent.date == "2020-11-26T23:11:34.307"


def test_refused_upload_reply_in_seda_20_keeps_its_event() -> None:
    atr = parse_atr(REFUSED_UPLOAD_20)
    assert atr.seda_version == "2.0"
    assert atr.reply_code == "KO"
    assert [(e.type_code, e.detail) for e in atr.events] == [("STP_UPLOAD_SIP", "STP_UPLOAD_SIP.KO")]


@pytest.mark.parametrize(("code", "accepted", "is_test"), [("WARNING", True, False), ("Test OK", False, True)])
def test_reply_codes(code: str, accepted: bool, is_test: bool) -> None:
    atr = parse_atr(OK_21.replace(b"<ReplyCode>OK</ReplyCode>", f"<ReplyCode>{code}</ReplyCode>".encode()))
    assert (atr.accepted, atr.is_test) == (accepted, is_test)


def test_a_reply_without_reply_code_is_not_accepted() -> None:
    atr = parse_atr(OK_21.replace(b"<ReplyCode>OK</ReplyCode>", b""))
    assert atr.reply_code == ""
    assert not atr.accepted


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"%PDF-1.4 binary", "not well-formed XML"),
        (b"<ArchiveTransferReply xmlns='fr:gouv:culture:archivesdefrance:seda:v2.1'>", "not well-formed XML"),
        (b'{"httpCode": 404}', "not well-formed XML"),
        (b"<ArchiveTransfer xmlns='fr:gouv:culture:archivesdefrance:seda:v2.1'/>", "not an ArchiveTransferReply"),
        (b"<ArchiveTransferReply xmlns='urn:other'/>", "not SEDA 2.x"),
        (b"<ArchiveTransferReply/>", "not SEDA 2.x"),
    ],
)
def test_garbage_raises_atr_error_naming_the_problem(data: bytes, problem: str) -> None:
    with pytest.raises(AtrError, match=problem):
        parse_atr(data)


def test_entities_are_not_expanded() -> None:
    hostile = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b"<ArchiveTransferReply xmlns='fr:gouv:culture:archivesdefrance:seda:v2.1'>"
        b"<ReplyCode>&e;</ReplyCode></ArchiveTransferReply>"
    )
    assert "root:" not in parse_atr(hostile).reply_code
