"""Attachments: photos and PDFs on tickets and rectification items, checked on their content, shown only to those who may see the record."""

import hashlib
import io
import re
import struct
import threading
import zlib
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import stream_encode_multipart

from tests.conftest import csrf_token, post_form
from tests.factories import T0
from tracker.domain.workflow import Status
from tracker.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tracker.models import Attachment, EventKind, Ticket, TicketEvent
from tracker.services.requests import attachments as attachment_service

ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00" + b"\x00" * 200
SHELL = b"#!/bin/sh\nrm -rf ~ /\n"
# The start of an iPhone photo: an ISO media "ftyp" box of brand heic.
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200
STORED_NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp|pdf)$")


def jpeg(size=(1200, 900), *, exif=None, quality=85) -> bytes:
    image = Image.new("RGB", size, (180, 40, 40))
    for x in range(0, size[0], 50):  # some detail, so the file is not trivially small
        image.paste((20, 20 + x % 200, 120), (x, 0, x + 10, size[1]))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, **({"exif": exif} if exif is not None else {}))
    return buffer.getvalue()


def png(size=(400, 300), mode="RGBA") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (10, 120, 200, 128) if mode == "RGBA" else 0).save(buffer, "PNG")
    return buffer.getvalue()


def pdf() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (200, 100), "white").save(buffer, "PDF")
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def attachments_dir(app, tmp_path, monkeypatch) -> Path:
    """A folder of this test's own: "nothing stored" is then checked exactly."""
    folder = tmp_path / "attachments"
    monkeypatch.setitem(app.config, "ATTACHMENTS_DIR", str(folder))
    return folder


def stored_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def attachment_rows(db) -> list[Attachment]:
    db.session.expire_all()
    return list(db.session.execute(select(Attachment).order_by(Attachment.id)).scalars())


def multipart(client, fields: dict) -> dict:
    """Return the keyword arguments that POST ``fields`` (and the CSRF token) as multipart, encoded in memory.

    werkzeug's test client spools a body over 500 KB to a temporary file
    that it never closes (a ResourceWarning, an error here): encoded in
    memory, the body is a plain bytes value.
    """
    values = {key: FileStorage(*value) if isinstance(value, tuple) else value for key, value in fields.items()}
    body, _length, boundary = stream_encode_multipart({"csrf_token": csrf_token(client), **values},
                                                      use_tempfile=False)
    return {"data": body.getvalue(), "content_type": f"multipart/form-data; boundary={boundary}"}


def post_files(client, url: str, fields: dict, **kwargs):
    return client.post(url, **multipart(client, fields), **kwargs)


def upload(client, ticket, data: bytes, name: str, content_type: str = "image/jpeg", **kwargs):
    return post_files(client, f"/tickets/{ticket.reference}/attachments",
                      {"file": (io.BytesIO(data), name, content_type)}, **kwargs)


def page_text(response) -> str:
    return response.get_data(as_text=True)


def fetch(client, path: str):
    """GET ``path`` and close the response (files are sent from an open file)."""
    response = client.get(path)
    response.get_data()
    response.close()
    return response


def switch_to(client, login_as, who: str):
    post_form(client, "/logout")
    return login_as(who)


# ---------------------------------------------------------------- accepted files


def test_a_photo_is_stored_with_a_thumbnail_and_shows_in_the_history(client, db, login_as, make_ticket,
                                                                     attachments_dir):
    ticket = make_ticket()
    login_as("requester")
    data = jpeg()
    response = upload(client, ticket, data, "leaking tap.jpg", follow_redirects=True)
    text = page_text(response)
    assert "Attached: leaking tap.jpg." in text

    [attachment] = attachment_rows(db)
    assert (attachment.owner_type, attachment.owner_id) == ("ticket", ticket.id)
    assert attachment.content_type == "image/jpeg" and attachment.has_thumbnail
    assert STORED_NAME.match(attachment.stored_name) and "leaking" not in attachment.stored_name
    files = stored_files(attachments_dir)
    assert [p.name for p in files] == sorted([attachment.stored_name, attachment.stored_name[:32] + ".thumb.jpg"])
    assert not list((attachments_dir / "tmp").iterdir())

    # The ticket page shows the thumbnail and the history says who attached what.
    assert f'/attachments/{attachment.id}/thumbnail' in text
    event = db.session.execute(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == EventKind.ATTACHMENT_ADDED)
    ).scalar_one()
    assert event.actor_id == ticket.requester_id and event.data["file_name"] == "leaking tap.jpg"
    assert "attached leaking tap.jpg" in " ".join(text.split())

    original = fetch(client, f"/attachments/{attachment.id}")
    assert original.status_code == 200
    # What is served is what is stored, re-encoded from the pixels: same picture, its own size and digest.
    assert attachment.size_bytes == len(original.data)
    assert attachment.sha256 == hashlib.sha256(original.data).hexdigest()
    with Image.open(io.BytesIO(original.data)) as served, Image.open(io.BytesIO(data)) as sent:
        assert served.format == "JPEG" and served.size == sent.size
        assert max(abs(a - b) for a, b in zip(served.getpixel((25, 25)), sent.getpixel((25, 25)), strict=True)) <= 8
    assert original.headers["Content-Type"] == "image/jpeg"
    assert original.headers["Content-Disposition"].startswith("inline")
    assert original.headers["X-Content-Type-Options"] == "nosniff"
    # The browser's own image page may style itself (no console errors); nothing may run there.
    image_csp = original.headers["Content-Security-Policy"]
    assert "sandbox" in image_csp and "default-src 'none'" in image_csp and "script" not in image_csp
    assert "style-src 'unsafe-inline'" in image_csp
    assert "private" in original.headers["Cache-Control"]
    thumbnail = fetch(client, f"/attachments/{attachment.id}/thumbnail")
    assert thumbnail.status_code == 200 and thumbnail.headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(thumbnail.data)) as small:
        assert small.format == "JPEG" and max(small.size) == 320


def test_a_png_with_transparency_and_a_pdf_are_accepted(client, db, login_as, make_ticket):
    ticket = make_ticket()
    login_as("technician")
    assert "Attached: screen.png." in page_text(upload(client, ticket, png(), "screen.png", "image/png",
                                                       follow_redirects=True))
    # The browser's content type is not believed, either way.
    document = pdf()
    response = upload(client, ticket, document, "invoice.pdf", "application/octet-stream", follow_redirects=True)
    assert "Attached: invoice.pdf." in page_text(response)
    image, document_row = attachment_rows(db)
    assert image.content_type == "image/png" and image.has_thumbnail
    assert document_row.content_type == "application/pdf" and not document_row.has_thumbnail

    download = fetch(client, f"/attachments/{document_row.id}")
    assert download.status_code == 200 and download.data == document
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"] == "attachment; filename=invoice.pdf"
    assert download.headers["Content-Security-Policy"] == "default-src 'none'; img-src 'self'; sandbox"
    assert fetch(client, f"/attachments/{document_row.id}/thumbnail").status_code == 404


GPS_IFD = 0x8825
XMP_WITH_PLACE = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                  b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="31,17.0N"/>'
                  b'</rdf:RDF></x:xmpmeta>')


def phone_photo(orientation: int) -> bytes:
    """A 400 x 200 photo as a phone writes it: sideways pixels, an orientation tag, where and when it was taken."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0112] = orientation
    exif[0xA431] = "SERIAL-123456"  # BodySerialNumber (in IFD0 here: dropped all the same)
    exif.get_ifd(0x8769)[0x9003] = "2026:11:20 08:15:00"
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (31.0, 17.0, 0.0), 3: "E", 4: (121.0, 30.0, 0.0)})
    image = Image.new("RGB", (400, 200), (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, 100, 200))  # blue on the left of the stored pixels
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif.tobytes(), xmp=XMP_WITH_PLACE, comment=b"home: block 7")
    data = buffer.getvalue()
    with Image.open(io.BytesIO(data)) as check:  # the photo sent does carry all of it
        assert check.getexif().get_ifd(GPS_IFD) and b"GPSLatitude" in data and b"block 7" in data
    return data


def test_what_is_served_is_upright_and_says_nothing_of_where(client, db, login_as, make_ticket):
    ticket = make_ticket()
    login_as("requester")
    upload(client, ticket, phone_photo(orientation=6), "sideways.jpg")  # 6: turn 90° clockwise to view
    [attachment] = attachment_rows(db)
    original = fetch(client, f"/attachments/{attachment.id}").data
    thumbnail = fetch(client, f"/attachments/{attachment.id}/thumbnail").data
    for data in (original, thumbnail):
        assert b"GPSLatitude" not in data and b"block 7" not in data and b"SERIAL-123456" not in data
        assert b"PhoneMaker" not in data
    with Image.open(io.BytesIO(original)) as served:
        assert served.size == (200, 400)  # upright: portrait
        # The stored left edge (blue) is now the top.
        top, bottom = served.getpixel((100, 10)), served.getpixel((100, 390))
        assert top[2] > 150 and top[0] < 100 and bottom[0] > 150
        exif = served.getexif()
        assert exif.get(0x0112, 1) == 1 and not exif.get_ifd(GPS_IFD)
        # When it was taken is evidence: kept.
        assert exif.get_ifd(0x8769) == {0x9003: "2026:11:20 08:15:00"}
    with Image.open(io.BytesIO(thumbnail)) as small:
        assert small.size == (160, 320) and not small.getexif()


def test_an_upright_photo_keeps_its_quality_and_loses_its_position(client, db, login_as, make_ticket):
    ticket = make_ticket()
    login_as("requester")
    sent = phone_photo(orientation=1)
    upload(client, ticket, sent, "upright.jpg")
    [attachment] = attachment_rows(db)
    original = fetch(client, f"/attachments/{attachment.id}").data
    assert b"GPSLatitude" not in original and b"block 7" not in original
    with Image.open(io.BytesIO(original)) as served, Image.open(io.BytesIO(sent)) as before:
        assert served.size == (400, 200) and not served.getexif().get_ifd(GPS_IFD)
        # Re-encoded with the photo's own quantisation tables: no visible loss.
        assert served.quantization == before.quantization


def test_a_png_keeps_its_transparency(client, db, login_as, make_ticket):
    ticket = make_ticket()
    login_as("technician")
    upload(client, ticket, png(), "screen.png", "image/png")
    [attachment] = attachment_rows(db)
    with Image.open(io.BytesIO(fetch(client, f"/attachments/{attachment.id}").data)) as served:
        assert served.format == "PNG" and served.mode == "RGBA" and served.getpixel((5, 5)) == (10, 120, 200, 128)


# ---------------------------------------------------------------- refused files


@pytest.mark.parametrize(
    "content, name",
    [(ELF, "photo.jpg"), (PE, "photo.jpg"), (SHELL, "photo.jpg"), (b"GIF89a" + b"\x00" * 100, "cat.gif")],
    ids=["elf", "windows-exe", "shell-script", "gif"],
)
def test_a_file_that_is_not_a_photo_or_pdf_is_refused_whatever_its_name(client, db, login_as, make_ticket,
                                                                        attachments_dir, content, name):
    ticket = make_ticket()
    login_as("requester")
    response = upload(client, ticket, content, name, "image/jpeg", follow_redirects=True)
    text = page_text(response)
    assert f"{name} is not a photo (JPEG, PNG or WebP) or a PDF document" in text
    assert "Nothing was saved." in text
    assert attachment_rows(db) == []
    assert stored_files(attachments_dir) == []
    assert not any(e.kind is EventKind.ATTACHMENT_ADDED for e in db.session.get(Ticket, ticket.id).events)


def heic(size=(640, 480)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 160, 60)).save(buffer, "HEIF")
    return buffer.getvalue()


def test_a_heic_photo_is_stored_as_jpeg(client, db, login_as, make_ticket, attachments_dir):
    ticket = make_ticket()
    login_as("requester")
    text = page_text(upload(client, ticket, heic(), "IMG_0001.HEIC", "image/heic", follow_redirects=True))
    assert "Attached: IMG_0001.jpg." in text
    [attachment] = attachment_rows(db)
    assert attachment.content_type == "image/jpeg" and attachment.has_thumbnail
    assert attachment.stored_name.endswith(".jpg")
    served = fetch(client, f"/attachments/{attachment.id}")
    with Image.open(io.BytesIO(served.data)) as image:
        assert image.format == "JPEG" and image.size == (640, 480)
    assert 'filename=IMG_0001.jpg' in served.headers["Content-Disposition"]


def test_a_heic_header_on_junk_is_refused(client, db, login_as, make_ticket, attachments_dir):
    ticket = make_ticket()
    login_as("requester")
    text = page_text(upload(client, ticket, HEIC, "IMG_0001.HEIC", "image/heic", follow_redirects=True))
    assert "IMG_0001.HEIC is damaged or incomplete" in text
    assert attachment_rows(db) == [] and stored_files(attachments_dir) == []


def test_without_pillow_heif_a_heic_photo_is_refused_with_how_to_send_jpeg(client, db, login_as, make_ticket,
                                                                           attachments_dir, monkeypatch):
    monkeypatch.setattr(attachment_service, "HEIC_SUPPORTED", False)
    ticket = make_ticket()
    login_as("requester")
    text = page_text(upload(client, ticket, heic(), "IMG_0001.HEIC", "image/heic", follow_redirects=True))
    assert "IMG_0001.HEIC is a HEIC photo" in text and "Most Compatible" in text
    assert attachment_rows(db) == [] and stored_files(attachments_dir) == []


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # the upload stopped half-way
        lambda data: data[:600] + bytes(range(256)) * 40,  # a JPEG header on noise
        lambda data: data[:-2],  # no end marker
    ],
    ids=["truncated", "noise", "no-end-marker"],
)
def test_a_damaged_jpeg_is_refused(client, db, login_as, make_ticket, attachments_dir, damage):
    ticket = make_ticket()
    login_as("requester")
    text = page_text(upload(client, ticket, damage(jpeg()), "broken.jpg", follow_redirects=True))
    assert "broken.jpg is damaged or incomplete" in text
    assert attachment_rows(db) == [] and stored_files(attachments_dir) == []


def test_a_truncated_pdf_is_refused(client, db, login_as, make_ticket, attachments_dir):
    ticket = make_ticket()
    login_as("requester")
    text = page_text(upload(client, ticket, pdf()[:-40], "half.pdf", "application/pdf", follow_redirects=True))
    assert "half.pdf is not a complete PDF document" in text
    assert attachment_rows(db) == [] and stored_files(attachments_dir) == []


def pdf_with(extra: bytes) -> bytes:
    """A small PDF carrying ``extra`` in its catalogue (a script, an action, an embedded file)."""
    body = (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R " + extra + b" >>\nendobj\n"
            b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n")
    return body + b"xref\n0 3\ntrailer\n<< /Root 1 0 R >>\nstartxref\n" + str(len(body)).encode() + b"\n%%EOF\n"


@pytest.mark.parametrize(
    "extra",
    [b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >>", b"/OpenAction << /S /Launch /F (cmd.exe) >>",
     b"/Names << /EmbeddedFiles << /Names [(a.exe) << /Type /Filespec /EF << /F 3 0 R >> >>] >> >>"],
    ids=["javascript", "launch", "embedded-file"],
)
def test_a_pdf_with_active_content_is_refused(client, db, login_as, make_ticket, attachments_dir, extra):
    ticket = make_ticket()
    login_as("requester")
    assert "Attached: plain.pdf." in page_text(
        upload(client, ticket, pdf_with(b""), "plain.pdf", "application/pdf", follow_redirects=True))
    text = page_text(upload(client, ticket, pdf_with(extra), "form.pdf", "application/pdf", follow_redirects=True))
    assert "form.pdf contains scripts, actions or embedded files, which are not accepted." in text
    assert [a.original_name for a in attachment_rows(db)] == ["plain.pdf"]
    assert len(stored_files(attachments_dir)) == 1


@pytest.mark.parametrize(
    "content",
    [b"%PDF-1.4\n%%EOF\n", b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n", b"%PDF-x\n" + b"1 0 obj\nstartxref\n1\n%%EOF"],
    ids=["no-objects", "no-startxref", "bad-version"],
)
def test_a_pdf_frame_without_a_document_is_refused(client, db, login_as, make_ticket, attachments_dir, content):
    ticket = make_ticket()
    login_as("requester")
    text = page_text(upload(client, ticket, content, "scan.pdf", "application/pdf", follow_redirects=True))
    assert "scan.pdf is not a complete PDF document. Nothing was saved." in text
    assert attachment_rows(db) == [] and stored_files(attachments_dir) == []


def test_a_decompression_bomb_is_refused(client, db, login_as, make_ticket, attachments_dir):
    # 100 megapixels in a few kilobytes: decoding it would take gigabytes.
    buffer = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buffer, "PNG")
    assert len(buffer.getvalue()) < 100_000
    ticket = make_ticket()
    login_as("requester")
    text = page_text(upload(client, ticket, buffer.getvalue(), "bomb.png", "image/png", follow_redirects=True))
    assert "bomb.png has too many pixels" in text
    assert attachment_rows(db) == [] and stored_files(attachments_dir) == []


def test_a_photo_over_the_pixel_limit_is_refused_before_it_is_decoded(app, client, db, login_as, make_ticket,
                                                                      attachments_dir, monkeypatch):
    monkeypatch.setitem(app.config, "ATTACHMENT_MAX_PIXELS", 1_000_000)
    ticket = make_ticket()
    login_as("requester")
    assert "Attached: small.jpg." in page_text(upload(client, ticket, jpeg(size=(1000, 1000)), "small.jpg",
                                                      follow_redirects=True))
    text = page_text(upload(client, ticket, jpeg(size=(1001, 1000)), "large.jpg", follow_redirects=True))
    assert "large.jpg has too many pixels to be processed safely. Send a smaller photo. Nothing was saved." in text
    assert [a.original_name for a in attachment_rows(db)] == ["small.jpg"]
    assert len(stored_files(attachments_dir)) == 2


def flat_png(width: int, height: int) -> bytes:
    """Return a PNG of one colour: the issue's 7000 x 7000 (147 MB decoded) weighs 660 KB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer = zlib.compressobj(1)
    # Filter "Up" on every row: the row above again, so zlib compresses zeros (quicker than Pillow here).
    rows = [packer.compress(b"\x00" + b"\xc8\xc8\xbe" * width)]
    rows += [packer.compress(b"\x02" + bytes(3 * width)) for _ in range(height - 1)]
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(rows) + packer.flush())
            + chunk(b"IEND", b""))


def served_size(client, path: str) -> tuple[int, int]:
    response = fetch(client, path)
    assert response.status_code == 200
    with Image.open(io.BytesIO(response.data)) as image:
        return image.size


def test_a_7000_by_7000_png_is_refused_from_its_header(client, db, login_as, make_ticket, attachments_dir):
    # Under the old 50 MP limit this file was decoded (4 s, 240 MB per upload) and stored.
    data = flat_png(7000, 7000)
    assert len(data) < 1024 * 1024
    ticket = make_ticket()
    login_as("requester")
    text = page_text(upload(client, ticket, data, "screen.png", "image/png", follow_redirects=True))
    assert "screen.png has too many pixels to be processed safely. Send a smaller photo. Nothing was saved." in text
    # Before any decoding: without its pixel data the file gets the same answer, not "damaged".
    text = page_text(upload(client, ticket, data[:4096], "half.png", "image/png", follow_redirects=True))
    assert "half.png has too many pixels" in text
    post_form(client, "/language", {"locale": "zh_CN", "next": f"/tickets/{ticket.reference}"})
    text = page_text(upload(client, ticket, data, "screen.png", "image/png", follow_redirects=True))
    assert "screen.png 像素过多，无法安全处理。请发送较小的照片。未保存任何内容。" in text
    assert attachment_rows(db) == [] and stored_files(attachments_dir) == []


def test_a_phone_photo_is_kept_at_its_size_with_its_thumbnail(client, db, login_as, make_ticket, attachments_dir):
    # 12 MP, what phones take by default: under every default limit, stored whole.
    ticket = make_ticket()
    login_as("requester")
    text = page_text(upload(client, ticket, jpeg(size=(4032, 3024)), "door.jpg", follow_redirects=True))
    assert "Attached: door.jpg." in text
    [attachment] = attachment_rows(db)
    assert served_size(client, f"/attachments/{attachment.id}") == (4032, 3024)
    assert served_size(client, f"/attachments/{attachment.id}/thumbnail") == (320, 240)


@pytest.mark.parametrize(
    "size, file_type, scale",
    [
        ((4032, 3024), attachment_service.JPEG, 1),  # 12 MP, phones' default
        ((5712, 4284), attachment_service.HEIC, 1),  # an iPhone's 24 MP default
        ((5120, 2880), attachment_service.PNG, 1),  # a 5K screenshot
        ((8064, 6048), attachment_service.JPEG, 2),  # 48 MP: decoded at 12 MP
        ((8192, 6144), attachment_service.JPEG, 2),  # the largest 50 MP frame
        ((8193, 6144), attachment_service.JPEG, None),  # over the declared limit
        ((8064, 6048), attachment_service.HEIC, None),  # 48 MP "HEIF Max": HEIC is decoded whole
        ((7000, 7000), attachment_service.PNG, None),  # the bomb
        ((7000, 7000), attachment_service.WEBP, None),
    ],
)
def test_the_default_limits_decode_phone_photos_and_refuse_large_canvases(app, size, file_type, scale):
    with app.app_context():
        if scale is None:
            with pytest.raises(Image.DecompressionBombError):
                attachment_service._decode_scale(size, file_type)
        else:
            assert attachment_service._decode_scale(size, file_type) == scale


def test_a_jpeg_over_the_decode_limit_is_decoded_and_stored_smaller(app, client, db, login_as, make_ticket,
                                                                     attachments_dir, monkeypatch):
    monkeypatch.setitem(app.config, "ATTACHMENT_DECODE_PIXELS", 1_000_000)
    ticket = make_ticket()
    login_as("requester")
    assert "Attached: wide.jpg." in page_text(upload(client, ticket, jpeg(size=(2000, 1500)), "wide.jpg",
                                                     follow_redirects=True))
    assert "Attached: square.jpg." in page_text(upload(client, ticket, jpeg(size=(3000, 3000)), "square.jpg",
                                                       follow_redirects=True))
    assert "Attached: odd.jpg." in page_text(upload(client, ticket, jpeg(size=(2001, 1501)), "odd.jpg",
                                                    follow_redirects=True))
    wide, square, odd = attachment_rows(db)
    assert served_size(client, f"/attachments/{wide.id}") == (1000, 750)  # libjpeg's 1/2
    assert served_size(client, f"/attachments/{square.id}") == (750, 750)  # 1/4
    assert served_size(client, f"/attachments/{odd.id}") == (1001, 751)  # 1/2, rounded up
    assert served_size(client, f"/attachments/{wide.id}/thumbnail") == (320, 240)
    # Decoded smaller, still read to the end: a truncated photo is refused.
    text = page_text(upload(client, ticket, jpeg(size=(2000, 1500))[:30_000], "cut.jpg", follow_redirects=True))
    assert "cut.jpg is damaged or incomplete" in text
    # A PNG cannot be decoded smaller: refused before decoding.
    text = page_text(upload(client, ticket, png(size=(1001, 1000)), "big.png", "image/png", follow_redirects=True))
    assert "big.png has too many pixels" in text
    assert len(attachment_rows(db)) == 3 and len(stored_files(attachments_dir)) == 6


def test_a_photo_waits_for_a_free_decoding_slot(app, client, db, login_as, make_ticket, attachments_dir,
                                                monkeypatch):
    monkeypatch.setitem(app.config, "ATTACHMENT_DECODES_AT_ONCE", 1)
    monkeypatch.setitem(app.config, "ATTACHMENT_DECODE_WAIT_SECONDS", 0.05)
    ticket = make_ticket()
    login_as("requester")
    with attachment_service._decode_slot():  # another upload is being decoded
        text = page_text(upload(client, ticket, jpeg(), "tap.jpg", follow_redirects=True))
    assert ("Too many photos are being processed right now. Try again in a minute. Nothing was saved."
            in text)
    assert attachment_rows(db) == [] and stored_files(attachments_dir) == []
    # A PDF is not decoded: it does not wait.
    with attachment_service._decode_slot():
        assert "Attached: form.pdf." in page_text(upload(client, ticket, pdf(), "form.pdf", "application/pdf",
                                                         follow_redirects=True))
    assert "Attached: tap.jpg." in page_text(upload(client, ticket, jpeg(), "tap.jpg", follow_redirects=True))


def test_no_more_uploads_wait_for_a_slot_than_the_queue_holds(app, monkeypatch):
    # A waiting upload holds a web thread: past the queue, the answer is "try again" at once.
    monkeypatch.setitem(app.config, "ATTACHMENT_DECODES_AT_ONCE", 1)
    monkeypatch.setitem(app.config, "ATTACHMENT_DECODE_QUEUE", 0)
    monkeypatch.setitem(app.config, "ATTACHMENT_DECODE_WAIT_SECONDS", 60)
    outcome = []

    def another_upload() -> None:
        with app.app_context():
            try:
                with attachment_service._decode_slot():
                    outcome.append("decoded")
            except Conflict as error:
                outcome.append(str(error))

    with app.app_context(), attachment_service._decode_slot():
        other = threading.Thread(target=another_upload)
        other.start()
        other.join(timeout=10)  # well before the 60 s it would wait in a queue
        assert outcome == ["Too many photos are being processed right now. Try again in a minute. "
                           "Nothing was saved."]
    other.join()


def test_a_file_over_the_size_limit_is_refused_by_the_service(app, client, db, login_as, make_ticket,
                                                             attachments_dir, monkeypatch):
    monkeypatch.setitem(app.config, "ATTACHMENT_MAX_BYTES", 100_000)
    ticket = make_ticket()
    login_as("requester")
    data = jpeg(size=(3000, 2000), quality=95)
    assert len(data) > 100_000
    text = page_text(upload(client, ticket, data, "big.jpg", follow_redirects=True))
    assert "big.jpg is larger than 0.095 MB, the most a file may have. Nothing was saved." in text
    assert attachment_rows(db) == [] and stored_files(attachments_dir) == []


def test_a_request_over_the_size_limit_gets_the_413_page(app, client, db, login_as, make_ticket,
                                                         attachments_dir, monkeypatch):
    monkeypatch.setitem(app.config, "ATTACHMENT_MAX_BYTES", 1024 * 1024)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024 + 64 * 1024)
    ticket = make_ticket()
    login_as("requester")
    response = upload(client, ticket, b"\xff\xd8\xff" + b"\x00" * (2 * 1024 * 1024), "huge.jpg")
    assert response.status_code == 413
    text = page_text(response)
    assert "File too large" in text
    assert "The file is larger than 1 MB, the most a file may have. Nothing was saved" in text
    assert attachment_rows(db) == [] and stored_files(attachments_dir) == []


def test_the_413_page_reads_in_the_users_language(app, client, db, login_as, make_ticket, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    ticket = make_ticket()
    # The language is remembered at the first login: the browser's, here Chinese.
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    login_as("requester")
    response = upload(client, ticket, b"\x00" * 4096, "huge.jpg")
    assert response.status_code == 413
    assert '<html lang="zh-CN">' in page_text(response)


def test_no_more_files_than_the_limit(app, client, db, login_as, make_ticket, monkeypatch):
    monkeypatch.setitem(app.config, "ATTACHMENTS_PER_OWNER_MAX", 1)
    ticket = make_ticket()
    login_as("requester")
    upload(client, ticket, jpeg(), "one.jpg")
    text = page_text(upload(client, ticket, jpeg(), "two.jpg", follow_redirects=True))
    assert "There are 1 files here already, the most allowed. Nothing was saved." in text
    assert [a.original_name for a in attachment_rows(db)] == ["one.jpg"]


def test_an_empty_form_asks_for_a_file(client, db, login_as, make_ticket):
    ticket = make_ticket()
    login_as("requester")
    response = post_form(client, f"/tickets/{ticket.reference}/attachments", follow_redirects=True)
    assert "Choose a file to attach." in page_text(response)
    assert attachment_rows(db) == []


# ---------------------------------------------------------------- who may add and see


def test_readers_and_finished_tickets_take_no_files(client, db, world, login_as, make_ticket, attachments_dir):
    ticket = make_ticket()
    login_as("leadership")
    page = page_text(client.get(f"/tickets/{ticket.reference}"))
    assert 'name="file"' not in page
    assert "You may not add files here." in page_text(upload(client, ticket, jpeg(), "x.jpg", follow_redirects=True))

    closed = make_ticket(status=Status.CLOSED)
    switch_to(client, login_as, "requester")
    assert 'name="file"' not in page_text(client.get(f"/tickets/{closed.reference}"))
    assert "You may not add files here." in page_text(upload(client, closed, jpeg(), "x.jpg", follow_redirects=True))

    # Someone who may not see the ticket gets the same 404 as for no ticket at all.
    switch_to(client, login_as, "other_requester")
    assert upload(client, ticket, jpeg(), "x.jpg").status_code == 404
    assert attachment_rows(db) == [] and stored_files(attachments_dir) == []


@pytest.mark.parametrize(
    "who, answer",
    [
        ("requester", "Attached: x.jpg."),
        ("technician", "Attached: x.jpg."),
        ("other_technician", "Attached: x.jpg."),
        ("dispatcher", "Attached: x.jpg."),
        ("centre_head", "Attached: x.jpg."),
        ("leadership", "You may not add files here."),
        ("admin", "You may not add files here."),
        ("other_requester", 404),
        ("dorm_technician", 404),
        ("dorm_head", 404),
    ],
)
def test_who_may_add_a_file_to_an_open_ticket(client, db, login_as, make_ticket, attachments_dir, who, answer):
    ticket = make_ticket()
    login_as(who)
    response = upload(client, ticket, jpeg(size=(64, 64)), "x.jpg", follow_redirects=True)
    if answer == 404:
        assert response.status_code == 404
    else:
        assert answer in page_text(response)
    stored = answer == "Attached: x.jpg."
    assert len(attachment_rows(db)) == (1 if stored else 0)
    assert len(stored_files(attachments_dir)) == (2 if stored else 0)


def test_only_those_who_see_the_ticket_download_its_files(client, db, world, login_as, make_ticket):
    ticket = make_ticket()
    login_as("requester")
    upload(client, ticket, jpeg(), "mine.jpg")
    [attachment] = attachment_rows(db)
    paths = [f"/attachments/{attachment.id}", f"/attachments/{attachment.id}/thumbnail"]
    missing = [f"/attachments/{attachment.id + 100}", f"/attachments/{attachment.id + 100}/thumbnail"]

    for who in ("other_requester", "dorm_head", "dorm_technician"):
        switch_to(client, login_as, who)
        answers = [fetch(client, path) for path in paths + missing]
        assert [a.status_code for a in answers] == [404] * 4, who
        # Nothing tells an existing file from an absent one (the page's header carries its own address).
        assert len({page_text(a).split("<main", 1)[1] for a in answers}) == 1, who

    for who in ("technician", "dispatcher", "centre_head", "leadership", "admin"):
        switch_to(client, login_as, who)
        assert [fetch(client, path).status_code for path in paths] == [200, 200], who


def test_the_service_refuses_without_reading_for_someone_who_may_not_attach(app, db, world, make_ticket):
    ticket = make_ticket()

    class Unread:
        filename = "photo.jpg"

        @property
        def stream(self):
            raise AssertionError("the file was read")

    with pytest.raises(PermissionDenied):
        attachment_service.save_upload(Unread(), owner_type="ticket", owner_id=ticket.id,
                                       actor=world.users["leadership"], now=T0)
    with pytest.raises(NotFound):
        attachment_service.save_upload(Unread(), owner_type="ticket", owner_id=ticket.id,
                                       actor=world.users["other_requester"], now=T0)
    with pytest.raises(NotFound):
        attachment_service.open_for_download(12345, user=world.users["admin"])


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    "given, shown",
    [
        ("../../etc/passwd.jpg", "passwd.jpg"),
        ("..\\..\\windows\\win.ini.jpg", "win.ini.jpg"),
        ("photo\x00.exe.jpg", "photo.exe.jpg"),
        ("\u202egpj.exe", "gpj.exe"),  # a right-to-left override would show "exe.jpg"
        ("...", "attachment"),
        ("水龙头漏水 照片.jpg", "水龙头漏水 照片.jpg"),
        ("a" * 300 + ".jpg", "a" * 146 + ".jpg"),
        ('what?<>:"|*.jpg', "what_______.jpg"),
    ],
)
def test_file_names_are_cleaned(given, shown):
    assert attachment_service.clean_file_name(given) == shown


def test_tricky_file_names_are_stored_safely(client, db, login_as, make_ticket, attachments_dir):
    ticket = make_ticket()
    login_as("requester")
    for name in ("../../etc/passwd.jpg", "水龙头漏水.jpg", "x" * 300 + ".jpg", "photo.png"):
        upload(client, ticket, jpeg(size=(64, 64)), name)
    rows = attachment_rows(db)
    assert [r.original_name for r in rows] == ["passwd.jpg", "水龙头漏水.jpg", "x" * 146 + ".jpg", "photo.png"]
    assert all(STORED_NAME.match(r.stored_name) for r in rows)
    files = stored_files(attachments_dir)
    assert len(files) == 8 and all(p.resolve().is_relative_to(attachments_dir.resolve()) for p in files)

    chinese = fetch(client, f"/attachments/{rows[1].id}")
    assert "filename*=UTF-8''%E6%B0%B4%E9%BE%99%E5%A4%B4%E6%BC%8F%E6%B0%B4.jpg" in chinese.headers[
        "Content-Disposition"]
    # A JPEG named .png downloads with the extension of what it is.
    assert "photo.png.jpg" in fetch(client, f"/attachments/{rows[3].id}").headers["Content-Disposition"]


# ---------------------------------------------------------------- consistency


def test_a_failed_commit_leaves_no_file(app, db, world, make_ticket, attachments_dir, monkeypatch):
    from werkzeug.datastructures import FileStorage

    from tracker.extensions import db as database

    ticket = make_ticket()

    def broken_commit():
        raise RuntimeError("the database went away")

    monkeypatch.setattr(database.session, "commit", broken_commit)
    photo = FileStorage(io.BytesIO(jpeg()), filename="photo.jpg", content_type="image/jpeg")
    with pytest.raises(RuntimeError):
        attachment_service.save_upload(photo, owner_type="ticket", owner_id=ticket.id,
                                       actor=world.users["requester"], now=T0)
    monkeypatch.undo()
    assert stored_files(attachments_dir) == []
    assert database.session.execute(select(func.count()).select_from(Attachment)).scalar_one() == 0


def test_another_record_type_plugs_in(app, db, world, attachments_dir):
    """The registry the rectification items use: its own rules for seeing and adding."""
    from werkzeug.datastructures import FileStorage

    rows = {7: {"id": 7, "owner": world.users["dorm_head"].id}}
    events = []
    attachment_service.register_owner(
        "test_record",
        load=rows.get,
        can_view=lambda user, row: user.id == row["owner"],
        can_attach=lambda user, row: user.id == row["owner"],
        event=lambda row, attachment, actor, now: events.append((row["id"], attachment.original_name)),
    )
    photo = FileStorage(io.BytesIO(pdf()), filename="evidence.pdf")
    saved = attachment_service.save_upload(photo, owner_type="test_record", owner_id=7,
                                           actor=world.users["dorm_head"], now=T0)
    assert events == [(7, "evidence.pdf")]
    found = attachment_service.open_for_download(saved.id, user=world.users["dorm_head"])
    assert found.path.is_file() and found.content_type == "application/pdf"
    with pytest.raises(NotFound):
        attachment_service.open_for_download(saved.id, user=world.users["admin"])
    with pytest.raises(ValidationFailed):
        attachment_service.save_upload(FileStorage(io.BytesIO(SHELL), filename="x.pdf"), owner_type="test_record",
                                       owner_id=7, actor=world.users["dorm_head"], now=T0)


# ---------------------------------------------------------------- rectification items


def test_evidence_on_a_rectification_item_follows_the_items_rules(client, db, world, login_as, attachments_dir):
    from tracker.models import RectificationEvent
    from tracker.services.ledger import rectification

    item = rectification.create_item(
        rectification.NewItem(centre_id=world.centres["repairs"].id, title="Vending machine 3 eats coins",
                              description="Reported in the November survey.",
                              responsible_id=world.users["technician"].id, due_on=T0.date().replace(year=2027)),
        actor=world.users["dispatcher"], now=T0)
    login_as("technician")  # the responsible person adds evidence
    response = post_files(client, f"/rectification/{item.reference}/evidence",
                          {"file": (io.BytesIO(phone_photo(orientation=6)), "machine.jpg", "image/jpeg")},
                          follow_redirects=True)
    text = page_text(response)
    assert "Attached: machine.jpg." in text and "added evidence: machine.jpg" in text
    [attachment] = attachment_rows(db)
    assert (attachment.owner_type, attachment.owner_id) == (rectification.OWNER_TYPE, item.id)
    kinds = [e.kind.value for e in db.session.execute(
        select(RectificationEvent).where(RectificationEvent.item_id == item.id)).scalars()]
    assert kinds[-1] == "evidence_added"
    assert f"/attachments/{attachment.id}/thumbnail" in text
    paths = [f"/attachments/{attachment.id}", f"/attachments/{attachment.id}/thumbnail"]
    served = fetch(client, paths[0]).data
    assert b"GPSLatitude" not in served

    # The item's centre and the campus-wide readers see it; requesters and other centres get 404.
    for who in ("dispatcher", "centre_head", "leadership", "admin"):
        switch_to(client, login_as, who)
        assert [fetch(client, path).status_code for path in paths] == [200, 200], who
    for who, refusal in (("requester", 403), ("dorm_head", 404), ("dorm_technician", 404)):
        switch_to(client, login_as, who)
        assert [fetch(client, path).status_code for path in paths] == [404, 404], who
        # Requesters read no item at all (403 for any reference, so nothing leaks); other centres get 404.
        for reference in (item.reference, "RC-2099-999999"):
            refused = post_files(client, f"/rectification/{reference}/evidence",
                                 {"file": (io.BytesIO(jpeg()), "x.jpg", "image/jpeg")})
            assert refused.status_code == refusal, (who, reference)

    # A renamed executable is refused here too, and nothing is stored.
    switch_to(client, login_as, "technician")
    text = page_text(post_files(client, f"/rectification/{item.reference}/evidence",
                                {"file": (io.BytesIO(ELF), "proof.jpg", "image/jpeg")}, follow_redirects=True))
    assert "proof.jpg is not a photo (JPEG, PNG or WebP) or a PDF document" in text
    assert len(attachment_rows(db)) == 1 and len(stored_files(attachments_dir)) == 2


# ---------------------------------------------------------------- the filing form


def _filing_form(world, **extra) -> dict:
    return {
        "category_id": str(world.categories["water"].id),
        "location_id": str(world.locations["room"].id),
        "description": "The shower head in room 301 sprays the ceiling.",
        **extra,
    }


def test_the_filing_form_offers_the_camera(client, db, login_as):
    login_as("requester")
    page = page_text(client.get("/tickets/new/repairs"))
    assert 'enctype="multipart/form-data"' in page
    field = re.search(r"<input[^>]*name=\"photo\"[^>]*>", page).group()
    assert 'accept="image/*"' in field and 'capture="environment"' in field and 'type="file"' in field


def test_a_photo_sent_with_the_request_is_attached(client, db, world, login_as):
    login_as("requester")
    response = post_form(
        client, "/tickets/new/repairs",
        _filing_form(world, photo=(io.BytesIO(jpeg()), "shower.jpg", "image/jpeg")),
        follow_redirects=True,
    )
    text = page_text(response)
    assert re.search(r"Request RP-\d{4}-\d{6} is filed\.", text)
    ticket = db.session.execute(select(Ticket)).scalar_one()
    [attachment] = attachment_rows(db)
    assert (attachment.owner_id, attachment.original_name, attachment.has_thumbnail) == (ticket.id, "shower.jpg", True)
    kinds = [e.kind for e in db.session.get(Ticket, ticket.id).events]
    assert kinds == [EventKind.FILED, EventKind.ATTACHMENT_ADDED]
    assert f"/attachments/{attachment.id}/thumbnail" in text


def test_a_refused_photo_files_nothing(client, db, world, login_as, attachments_dir):
    login_as("requester")
    response = post_form(
        client, "/tickets/new/repairs",
        _filing_form(world, photo=(io.BytesIO(ELF), "photo.jpg", "image/jpeg")),
    )
    assert response.status_code == 200  # the form again, filled in
    text = page_text(response)
    assert "photo.jpg is not a photo (JPEG, PNG or WebP) or a PDF document" in text
    assert "The shower head in room 301 sprays the ceiling." in text
    assert db.session.execute(select(func.count()).select_from(Ticket)).scalar_one() == 0
    assert attachment_rows(db) == [] and stored_files(attachments_dir) == []


def test_filing_with_a_photo_is_one_transaction(app, client, db, world, login_as, attachments_dir, monkeypatch):
    """A failure after the photo is placed (here: the history entry) files nothing and leaves no file."""
    login_as("requester")

    def broken_event(*args):
        raise RuntimeError("the database went away")

    owner = attachment_service._OWNERS["ticket"]
    monkeypatch.setitem(attachment_service._OWNERS, "ticket", owner.__class__(
        load=owner.load, lock=owner.lock, can_view=owner.can_view, can_attach=owner.can_attach, event=broken_event))
    with pytest.raises(RuntimeError):
        post_files(client, "/tickets/new/repairs",
                   _filing_form(world, photo=(io.BytesIO(jpeg()), "shower.jpg", "image/jpeg")))
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(Ticket)).scalar_one() == 0
    assert db.session.execute(select(func.count()).select_from(TicketEvent)).scalar_one() == 0
    assert attachment_rows(db) == [] and stored_files(attachments_dir) == []


def test_the_request_without_a_photo_is_filed_as_before(client, db, world, login_as):
    login_as("requester")
    response = post_form(client, "/tickets/new/repairs", _filing_form(world))
    assert response.status_code == 302
    assert db.session.execute(select(func.count()).select_from(Ticket)).scalar_one() == 1
    assert attachment_rows(db) == []
