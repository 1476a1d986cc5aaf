"""Test SIPs built by hand (zipfile + a small SEDA 2.1 manifest), independent of seda/."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

CONTENT = b"x"
CONTENT_SHA512 = hashlib.sha512(CONTENT).hexdigest()
MESSAGE_IDENTIFIER = "SIP-UNIV-DEMO-0001"

# Adapted from shared/seda/examples/synthetic-typical-2.1.xml, with the demo referentials.
MANIFEST_21 = f"""<?xml version="1.0" encoding="UTF-8"?>
<ArchiveTransfer xmlns="fr:gouv:culture:archivesdefrance:seda:v2.1">
  <Comment>SIP de test du bac à sable VITAM</Comment>
  <Date>2024-01-01T12:00:00</Date>
  <MessageIdentifier>{MESSAGE_IDENTIFIER}</MessageIdentifier>
  <ArchivalAgreement>IC-000001</ArchivalAgreement>
  <CodeListVersions>
    <ReplyCodeListVersion>ReplyCodeListVersion0</ReplyCodeListVersion>
    <MessageDigestAlgorithmCodeListVersion>MessageDigestAlgorithmCodeListVersion0</MessageDigestAlgorithmCodeListVersion>
    <FileFormatCodeListVersion>FileFormatCodeListVersion0</FileFormatCodeListVersion>
  </CodeListVersions>
  <DataObjectPackage>
    <DataObjectGroup id="GOT1">
      <BinaryDataObject id="BDO1">
        <DataObjectVersion>BinaryMaster_1</DataObjectVersion>
        <Uri>content/BDO1.txt</Uri>
        <MessageDigest algorithm="SHA-512">{CONTENT_SHA512}</MessageDigest>
        <Size>1</Size>
        <FormatIdentification>
          <MimeType>text/plain</MimeType>
          <FormatId>x-fmt/111</FormatId>
        </FormatIdentification>
        <FileInfo><Filename>note.txt</Filename></FileInfo>
      </BinaryDataObject>
    </DataObjectGroup>
    <DescriptiveMetadata>
      <ArchiveUnit id="AU1">
        <Management>
          <AppraisalRule>
            <Rule>APP-00001</Rule>
            <StartDate>2023-01-01</StartDate>
            <FinalAction>Keep</FinalAction>
          </AppraisalRule>
          <AccessRule>
            <Rule>ACC-00001</Rule>
            <StartDate>2023-01-01</StartDate>
          </AccessRule>
        </Management>
        <Content>
          <DescriptionLevel>RecordGrp</DescriptionLevel>
          <Title>Dossiers étudiants 2023</Title>
        </Content>
        <ArchiveUnit id="AU2">
          <Content>
            <DescriptionLevel>Item</DescriptionLevel>
            <Title>Relevé de notes</Title>
          </Content>
          <DataObjectReference>
            <DataObjectGroupReferenceId>GOT1</DataObjectGroupReferenceId>
          </DataObjectReference>
        </ArchiveUnit>
      </ArchiveUnit>
    </DescriptiveMetadata>
    <ManagementMetadata>
      <OriginatingAgencyIdentifier>UNIV-DEMO</OriginatingAgencyIdentifier>
      <SubmissionAgencyIdentifier>UNIV-DEMO</SubmissionAgencyIdentifier>
    </ManagementMetadata>
  </DataObjectPackage>
  <ArchivalAgency><Identifier>CINES</Identifier></ArchivalAgency>
  <TransferringAgency><Identifier>UNIV-DEMO</Identifier></TransferringAgency>
</ArchiveTransfer>
"""


def build_sip(
    folder: Path,
    *,
    manifest: str | bytes = MANIFEST_21,
    files: dict[str, bytes] | None = None,
    manifest_name: str = "manifest.xml",
    name: str = "sip.zip",
) -> Path:
    """A zipped SIP: the manifest at the root plus ``files`` (default: content/BDO1.txt)."""
    path = folder / name
    entries = {"content/BDO1.txt": CONTENT} if files is None else files
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        data = manifest.encode("utf-8") if isinstance(manifest, str) else manifest
        archive.writestr(manifest_name, data)
        for entry, content in entries.items():
            archive.writestr(entry, content)
    return path


def manifest_sha512(manifest: str = MANIFEST_21) -> str:
    return hashlib.sha512(manifest.encode("utf-8")).hexdigest()
