"""Attachments: photos and PDFs on tickets and other records.

What is accepted is decided on the bytes, never on the file's name or the
content type the browser sent: JPEG, PNG and WebP images that Pillow
decodes to the last pixel (a truncated or corrupt photo is refused, and so
is a decompression bomb), HEIC photos (iPhones' own format, decoded by
pillow-heif and stored as JPEG, which every browser shows), and PDF
documents (``%PDF-`` header, ``startxref`` and ``%%EOF`` trailer, objects,
and no script, launch action or embedded file). Without pillow-heif a HEIC
photo is refused with a message that says how to send JPEG.

What is served is what is stored, and a photo is stored re-encoded from
its pixels: turned upright by its EXIF orientation, without its GPS
position, camera serials, XMP or comments (a campus photo says where
someone works or lives); only the time it was taken and the colour profile
are kept. Re-encoding also turns a file that is both a picture and
something else (a "polyglot") into a plain picture.

Storage: ``ATTACHMENTS_DIR/<2 hex>/<uuid4 hex>.<ext>``, the thumbnail (a
320 px JPEG, without the photo's metadata) beside it as ``<hex>.thumb.jpg``.
An upload is streamed into ``ATTACHMENTS_DIR/tmp/`` with a byte cap and
checked there; only then is a row written, the files renamed into place and
the row committed. A failed commit removes the files again; a refusal
leaves neither file nor row.

Cost: the pixel limits are judged on the header, before decoding; a JPEG
over ATTACHMENT_DECODE_PIXELS is decoded smaller by libjpeg, other types
over it are refused. Decoding takes one of a few slots per process
(``_decode_slot``), and the freed memory is handed back afterwards.

Record types plug in with ``register_owner``; tickets are registered below.
"""

import ctypes
import ctypes.util
import hashlib
import logging
import math
import os
import re
import tempfile
import threading
import unicodedata
import uuid
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import current_app
from PIL import Image, ImageOps
from sqlalchemy import func, select

from tracker.domain.i18n import N_
from tracker.domain.workflow import FINAL_STATUSES, Relation
from tracker.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tracker.extensions import db
from tracker.models import Attachment, EventKind, Ticket, TicketEvent, User
from tracker.services.requests import tickets as ticket_service

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
THUMBNAIL_PX = 320
NAME_MAX = 150
# Leading bytes read to tell the type; the PDF trailer is looked for in the last bytes.
HEAD_BYTES = 32
PDF_TAIL_BYTES = 2048


@dataclass(frozen=True)
class FileType:
    content_type: str
    extension: str
    # The Pillow plugin that must decode it; None for documents.
    pillow_format: str | None
    # Extensions a download name may keep as they are.
    suffixes: tuple[str, ...]


JPEG = FileType("image/jpeg", ".jpg", "JPEG", (".jpg", ".jpeg", ".jpe", ".jfif"))
PNG = FileType("image/png", ".png", "PNG", (".png",))
WEBP = FileType("image/webp", ".webp", "WEBP", (".webp",))
PDF = FileType("application/pdf", ".pdf", None, (".pdf",))
TYPES = {t.content_type: t for t in (JPEG, PNG, WEBP, PDF)}
# Accepted, never stored as such: converted to JPEG.
HEIC = FileType("image/heic", ".jpg", "HEIF", (".heic", ".heif"))
# ISO base media "ftyp" brands of HEIF/HEIC images.
HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"})
_STORED_NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp|pdf)$")
# Characters that Windows refuses in file names: replaced, so a download saves as named.
_RESERVED = str.maketrans({c: "_" for c in '<>:"|?*'})

# EXIF tags kept on a stored photo (the rest, GPS first, is dropped).
EXIF_IFD = 0x8769
EXIF_KEPT = (0x9003, 0x9010, 0x9011)  # DateTimeOriginal, OffsetTime, OffsetTimeOriginal
JPEG_QUALITY = 90
# PDF names of content a reader would run or unpack; refused. A name
# written with #xx escapes or inside a compressed object stream is not
# seen: a PDF is also served as a download with a sandboxing CSP.
PDF_ACTIVE = re.compile(rb"/(JavaScript|Launch|EmbeddedFiles?|RichMedia)\b")
PDF_OBJECT = re.compile(rb"\d+\s+\d+\s+obj\b")

try:  # Optional: without it a HEIC photo is refused with a clear message.
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIC_SUPPORTED = True
except ImportError:  # pragma: no cover - the wheel exists for the platforms we run on
    HEIC_SUPPORTED = False

try:  # glibc only: returns freed heap pages to the system (see _return_memory).
    _malloc_trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
except (OSError, AttributeError):  # pragma: no cover - musl, macOS
    _malloc_trim = None

TOO_LARGE = N_("%(name)s is larger than %(max)s MB, the most a file may have. Nothing was saved.")


# ---------------------------------------------------------------- owners


@dataclass(frozen=True)
class Owner:
    """How one record type lends its rules to its attachments."""

    load: Callable[[int], object | None]
    can_view: Callable[[User, object], bool]
    can_attach: Callable[[User, object], bool]
    event: Callable[[object, Attachment, User, datetime], None]
    lock: Callable[[int], object | None]


_OWNERS: dict[str, Owner] = {}


def register_owner(
    owner_type: str,
    *,
    load: Callable[[int], object | None],
    can_view: Callable[[User, object], bool],
    can_attach: Callable[[User, object], bool],
    event: Callable[[object, Attachment, User, datetime], None],
    lock: Callable[[int], object | None] | None = None,
) -> None:
    """Let records of ``owner_type`` carry attachments.

    ``load(id)`` returns the row or None; ``lock(id)`` (default: ``load``)
    the same, locked for update, when a file is added, so the count limit
    holds under concurrent uploads. Downloads and lists follow
    ``can_view(user, row)``; uploads ``can_attach(user, row)``.
    ``event(row, attachment, actor, now)`` writes the record's history
    entry (no commit). Registering a type again replaces its rules.
    """
    if not owner_type or len(owner_type) > 32:
        raise ValueError(f"owner type must have 1 to 32 characters: {owner_type!r}")
    _OWNERS[owner_type] = Owner(load=load, can_view=can_view, can_attach=can_attach, event=event,
                                lock=lock or load)


def _owner(owner_type: str) -> Owner:
    try:
        return _OWNERS[owner_type]
    except KeyError:
        raise ValueError(f"no attachment owner registered as {owner_type!r}") from None


# ---------------------------------------------------------------- names and paths


def clean_file_name(name: str | None) -> str:
    """Return a file name fit to show and to offer as a download name.

    Keeps letters of every script; drops folders, control and invisible
    characters (NUL, right-to-left overrides), leading dots; shortens to
    NAME_MAX characters, keeping the extension. Never empty.
    """
    text = unicodedata.normalize("NFC", name or "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = " ".join(text.translate(_RESERVED).split()).strip(" .")
    if len(text) > NAME_MAX:
        stem, dot, extension = text.rpartition(".")
        if dot and stem and len(extension) <= 10:
            text = stem[: NAME_MAX - len(extension) - 1].rstrip(" .") + "." + extension
        else:
            text = text[:NAME_MAX].rstrip(" .")
    return text or "attachment"


def download_name(attachment: Attachment) -> str:
    """Return the name to save the file as: its own, with the extension of its real type."""
    file_type = TYPES[attachment.content_type]
    name = attachment.original_name
    return name if name.lower().endswith(file_type.suffixes) else name + file_type.extension


def _root() -> Path:
    return Path(current_app.config["ATTACHMENTS_DIR"])


def _file_path(root: Path, stored_name: str) -> Path:
    # Generated names only; the check keeps a bad row from pointing outside the folder.
    if not _STORED_NAME.match(stored_name):
        raise ValueError(f"not a stored attachment name: {stored_name!r}")
    return root / stored_name[:2] / stored_name


def _thumbnail_path(root: Path, stored_name: str) -> Path:
    path = _file_path(root, stored_name)
    return path.with_name(path.stem + ".thumb.jpg")


def _temporary_folder() -> Path:
    folder = _root() / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# ---------------------------------------------------------------- checking


@dataclass
class Prepared:
    """An upload checked and held in the temporary folder, not yet stored.

    ``attach`` consumes it; ``discard`` removes its files (safe to repeat).
    """

    file_type: FileType
    original_name: str
    size_bytes: int
    sha256: str
    path: Path
    thumbnail_path: Path | None

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
        if self.thumbnail_path is not None:
            self.thumbnail_path.unlink(missing_ok=True)


def max_megabytes() -> str:
    """Return the size limit as people read it: "10" MB (MiB)."""
    value = current_app.config["ATTACHMENT_MAX_BYTES"] / (1024 * 1024)
    return f"{value:g}" if value >= 1 else f"{value:.2g}"


def prepare(upload) -> Prepared:
    """Stream ``upload`` (a werkzeug FileStorage) to a temporary file and check it.

    Reads at most ATTACHMENT_MAX_BYTES + 1 bytes. A photo is replaced by
    its cleaned copy (upright, metadata stripped; HEIC as JPEG), and the
    size and digest are the cleaned file's. Raises ValidationFailed, having
    removed what it wrote, for no file, an empty or too large one, a type
    other than JPEG, PNG, WebP, HEIC or PDF (judged on the content), or a
    file that does not decode or pass the PDF checks.
    """
    if upload is None or not getattr(upload, "filename", None):
        raise ValidationFailed(N_("Choose a file to attach."))
    name = clean_file_name(upload.filename)
    limit = current_app.config["ATTACHMENT_MAX_BYTES"]
    descriptor, raw_path = tempfile.mkstemp(dir=_temporary_folder(), prefix="upload-", suffix=".part")
    path = Path(raw_path)
    thumbnail = None
    try:
        digest, size = hashlib.sha256(), 0
        with os.fdopen(descriptor, "wb") as out:
            while chunk := upload.stream.read(CHUNK_BYTES):
                size += len(chunk)
                if size > limit:
                    raise ValidationFailed(TOO_LARGE, name=name, max=max_megabytes())
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise ValidationFailed(N_("%(name)s is empty. Nothing was saved."), name=name)
        file_type = _identify(path, name)
        if file_type.pillow_format:
            thumbnail = path.with_suffix(".thumb")
            cleaned = path.with_suffix(".clean")
            try:
                stored_type = _clean_image(path, file_type, name, cleaned, thumbnail)
                os.replace(cleaned, path)
            finally:
                cleaned.unlink(missing_ok=True)
            if stored_type is not file_type:  # HEIC, kept as JPEG: so is its name
                stem = name[: -len(Path(name).suffix)] if Path(name).suffix else name
                name = clean_file_name(stem + stored_type.extension)
            file_type = stored_type
            digest, size = _digest(path)
        else:
            _check_pdf(path, size, name)
    except BaseException:
        path.unlink(missing_ok=True)
        if thumbnail is not None:
            thumbnail.unlink(missing_ok=True)
        raise
    return Prepared(file_type=file_type, original_name=name, size_bytes=size, sha256=digest.hexdigest(),
                    path=path, thumbnail_path=thumbnail)


def _digest(path: Path):
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            size += len(chunk)
            digest.update(chunk)
    return digest, size


def _identify(path: Path, name: str) -> FileType:
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        if HEIC_SUPPORTED:
            return HEIC
        raise ValidationFailed(
            N_("%(name)s is a HEIC photo, which cannot be shown here. Send it as JPEG: on an iPhone, "
               "Settings › Camera › Formats › Most Compatible, or take the photo from this page. "
               "Nothing was saved."),
            name=name,
        )
    raise ValidationFailed(
        N_("%(name)s is not a photo (JPEG, PNG or WebP) or a PDF document: its content was checked, "
           "whatever its name says. Nothing was saved."),
        name=name,
    )


def _clean_image(path: Path, file_type: FileType, name: str, cleaned: Path, thumbnail: Path) -> FileType:
    """Decode the image, write it upright and without its metadata, and its thumbnail.

    The size is judged from the header first: over ATTACHMENT_MAX_PIXELS,
    or over ATTACHMENT_DECODE_PIXELS for a type that cannot be decoded
    smaller, the image is refused before a pixel is decoded. A JPEG over
    ATTACHMENT_DECODE_PIXELS is decoded (and stored) at 1/2, 1/4 or 1/8
    size. Decoding waits for one of the process's slots (``_decode_slot``).
    Returns the type written (a HEIC photo becomes JPEG). Raises
    ValidationFailed for an image that does not decode or has too many
    pixels, Conflict when no slot frees in time.
    """
    try:
        with warnings.catch_warnings():
            # Pillow only warns below twice its pixel limit: treat the warning as the refusal it is.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=[file_type.pillow_format]) as header:
                scale = _decode_scale(header.size, file_type)
            with _decode_slot():
                try:
                    return _decode_and_write(path, file_type, scale, cleaned, thumbnail)
                finally:
                    _return_memory()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationFailed(
            N_("%(name)s has too many pixels to be processed safely. Send a smaller photo. Nothing was saved."),
            name=name,
        ) from None
    except Conflict:
        raise
    except Exception as error:  # any decoder complaint: truncated, corrupt, disguised
        log.info("refused image %r: %s", name, error)
        raise ValidationFailed(
            N_("%(name)s is damaged or incomplete and cannot be read as a picture. Nothing was saved."),
            name=name,
        ) from None


def _decode_scale(size: tuple[int, int], file_type: FileType) -> int:
    """Return the reduction (1, 2, 4 or 8) to decode an image of ``size`` pixels at.

    Raises DecompressionBombError, from the header's size alone, when the
    image declares more than ATTACHMENT_MAX_PIXELS, or would decode to more
    than ATTACHMENT_DECODE_PIXELS even reduced: only libjpeg decodes at a
    fraction of the size (its DCT scaling), so for PNG, WebP and HEIC the
    decoded size is the declared one.
    """
    width, height = size
    if width * height > current_app.config["ATTACHMENT_MAX_PIXELS"]:
        raise Image.DecompressionBombError(f"{width} x {height} pixels")
    decodable = current_app.config["ATTACHMENT_DECODE_PIXELS"]
    for scale in (1, 2, 4, 8) if file_type is JPEG else (1,):
        if math.ceil(width / scale) * math.ceil(height / scale) <= decodable:
            return scale
    raise Image.DecompressionBombError(f"{width} x {height} pixels")


def _decode_and_write(path: Path, file_type: FileType, scale: int, cleaned: Path, thumbnail: Path) -> FileType:
    """Check, decode at 1/``scale`` and write the clean copy and the thumbnail; return the type written.

    One decoded copy at a time: turned and shrunk in place, so a photo
    costs its decoded size once (3 to 4 bytes a pixel), not three times.
    """
    if file_type is not HEIC:
        with Image.open(path, formats=[file_type.pillow_format]) as probe:
            probe.verify()
    with Image.open(path, formats=[file_type.pillow_format]) as image:
        if scale > 1:
            # draft() takes the largest factor that keeps the image at least this size: floor, not ceil.
            image.draft(None, (max(image.width // scale, 1), max(image.height // scale, 1)))
        if image.width * image.height > current_app.config["ATTACHMENT_DECODE_PIXELS"]:
            raise Image.DecompressionBombError(f"{image.width} x {image.height} pixels once reduced")
        image.load()
        stored_type = JPEG if file_type is HEIC else file_type
        upright = _write_clean(image, stored_type, cleaned)
        # In place; reduce() by whole factors first (reducing_gap), then resampled.
        upright.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
        # Saved without any metadata: no camera position in thumbnails.
        _flatten(upright).save(thumbnail, "JPEG", quality=80, optimize=True)
        return stored_type


BUSY = N_("Too many photos are being processed right now. Try again in a minute. Nothing was saved.")


@dataclass
class _Slots:
    semaphore: threading.BoundedSemaphore
    waiting: int = 0


_slots_lock = threading.Lock()
_slots: dict[int, _Slots] = {}


@contextmanager
def _decode_slot():
    """Hold one of the ATTACHMENT_DECODES_AT_ONCE decoding slots of this process.

    A decoded photo costs tens of megabytes and a core for a second: eight
    uploads at once, unbounded, took the web workers to gigabytes and
    /login to 30 s. At most ATTACHMENT_DECODE_QUEUE uploads wait for a
    slot, each ATTACHMENT_DECODE_WAIT_SECONDS at most: a waiting upload
    holds a web thread, and the threads left answer everyone else. Raises
    Conflict when the queue is full or the wait runs out.
    """
    config = current_app.config
    with _slots_lock:
        slots = _slots.setdefault(config["ATTACHMENT_DECODES_AT_ONCE"],
                                  _Slots(threading.BoundedSemaphore(config["ATTACHMENT_DECODES_AT_ONCE"])))
        acquired = slots.semaphore.acquire(blocking=False)
        if not acquired:
            if slots.waiting >= config["ATTACHMENT_DECODE_QUEUE"]:
                raise Conflict(BUSY)
            slots.waiting += 1
    if not acquired:
        try:
            acquired = slots.semaphore.acquire(timeout=config["ATTACHMENT_DECODE_WAIT_SECONDS"])
        finally:
            with _slots_lock:
                slots.waiting -= 1
        if not acquired:
            raise Conflict(BUSY)
    try:
        yield
    finally:
        slots.semaphore.release()


def _return_memory() -> None:
    """Give the freed pixel buffers back to the system (glibc keeps them in its arenas otherwise)."""
    if _malloc_trim is not None:
        _malloc_trim(0)


def _flatten(image: Image.Image) -> Image.Image:
    """Return ``image`` in a mode JPEG takes: transparency on white."""
    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("CMYK", "I;16", "I", "F") or "A" not in image.getbands() and image.mode != "P":
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    flat = Image.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat


def _kept_exif(image: Image.Image) -> bytes:
    """Return the EXIF block a stored photo keeps: when it was taken, nothing else."""
    source = image.getexif()
    taken = {tag: value for tag, value in source.get_ifd(EXIF_IFD).items() if tag in EXIF_KEPT}
    if not taken:
        return b""
    kept = Image.Exif()
    kept[EXIF_IFD] = taken
    return kept.tobytes()


def _write_clean(image: Image.Image, stored_type: FileType, target: Path) -> Image.Image:
    """Write ``image`` upright, with only the metadata kept, to ``target``; return the upright image.

    Turns ``image`` itself; the image returned is ``image`` or, flattened for JPEG, a copy.
    """
    orientation = image.getexif().get(0x0112, 1)
    exif = _kept_exif(image)
    icc_profile = image.info.get("icc_profile")
    transparency = image.info.get("transparency")
    options: dict = {"exif": exif} if exif else {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    if stored_type is JPEG and image.format == "JPEG" and orientation == 1:
        # Already upright: the photo's own quantisation, so no visible loss.
        upright = image
        options.update(quality="keep")
    else:
        # In place: a second copy of the pixels would double what a photo costs.
        ImageOps.exif_transpose(image, in_place=True)
        upright = image
        if stored_type is JPEG:
            upright = _flatten(upright)
            options.update(quality=JPEG_QUALITY)
        elif stored_type is WEBP:
            options.update(quality=JPEG_QUALITY)
        elif transparency is not None:
            options["transparency"] = transparency
    # Nothing read from the file rides along (Pillow falls back to info for some keys).
    upright.info = {}
    upright.save(target, stored_type.pillow_format, **options)
    return upright


def _check_pdf(path: Path, size: int, name: str) -> None:
    """Check a PDF's frame: version, objects, cross-reference pointer and end; refuse active content."""
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
        fh.seek(max(size - PDF_TAIL_BYTES, 0))
        tail = fh.read()
    if not re.match(rb"%PDF-[12]\.\d", head) or b"%%EOF" not in tail or b"startxref" not in tail:
        raise ValidationFailed(
            N_("%(name)s is not a complete PDF document. Nothing was saved."), name=name
        )
    has_object = False
    overlap = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            window = overlap + chunk
            if PDF_ACTIVE.search(window):
                raise ValidationFailed(
                    N_("%(name)s contains scripts, actions or embedded files, which are not accepted. "
                       "Print it to a new PDF and send that. Nothing was saved."),
                    name=name,
                )
            has_object = has_object or PDF_OBJECT.search(window) is not None
            overlap = chunk[-32:]
    if not has_object:
        raise ValidationFailed(
            N_("%(name)s is not a complete PDF document. Nothing was saved."), name=name
        )


# ---------------------------------------------------------------- storing


def _authorise(owner: Owner, row, actor: User) -> None:
    if row is None or not actor.is_active or not owner.can_view(actor, row):
        raise NotFound()
    if not owner.can_attach(actor, row):
        raise PermissionDenied(N_("You may not add files here."))


def _check_count(owner_type: str, owner_id: int) -> None:
    limit = current_app.config["ATTACHMENTS_PER_OWNER_MAX"]
    count = db.session.execute(
        select(func.count())
        .select_from(Attachment)
        .where(Attachment.owner_type == owner_type, Attachment.owner_id == owner_id)
    ).scalar_one()
    if count >= limit:
        raise ValidationFailed(
            N_("There are %(max)d files here already, the most allowed. Nothing was saved."), max=limit
        )


def _store(prepared: Prepared, *, owner_type: str, owner_id: int, row, actor: User, now: datetime,
           placed: list[Path]) -> Attachment:
    """Add the row and the record's history entry, and move the files into place; no commit.

    Each file moved is appended to ``placed`` at once, for the caller to
    remove should the transaction fail. Files go into place before the
    commit: a committed row always has its file.
    """
    stored_name = uuid.uuid4().hex + prepared.file_type.extension
    attachment = Attachment(
        owner_type=owner_type,
        owner_id=owner_id,
        original_name=prepared.original_name,
        content_type=prepared.file_type.content_type,
        size_bytes=prepared.size_bytes,
        sha256=prepared.sha256,
        stored_name=stored_name,
        has_thumbnail=prepared.thumbnail_path is not None,
        uploaded_by_id=actor.id,
        created_at=now,
    )
    db.session.add(attachment)
    db.session.flush()
    _owner(owner_type).event(row, attachment, actor, now)
    db.session.flush()
    root = _root()
    target = _file_path(root, stored_name)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(prepared.path, target)
    placed.append(target)
    if prepared.thumbnail_path is not None:
        thumbnail = _thumbnail_path(root, stored_name)
        os.replace(prepared.thumbnail_path, thumbnail)
        placed.append(thumbnail)
    return attachment


def attach(prepared: Prepared, *, owner_type: str, owner_id: int, actor: User, now: datetime) -> Attachment:
    """Store a checked upload on a record and return its row (committed).

    Consumes ``prepared`` whatever happens. Raises NotFound when the actor
    cannot see the record, PermissionDenied when they may not add files
    to it, ValidationFailed past the count limit.
    """
    owner = _owner(owner_type)
    placed: list[Path] = []
    try:
        row = owner.lock(owner_id)
        _authorise(owner, row, actor)
        _check_count(owner_type, owner_id)
        attachment = _store(prepared, owner_type=owner_type, owner_id=owner_id, row=row, actor=actor, now=now,
                            placed=placed)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        for path in placed:
            path.unlink(missing_ok=True)
        raise
    finally:
        prepared.discard()
    return attachment


def save_upload(upload, *, owner_type: str, owner_id: int, actor: User, now: datetime) -> Attachment:
    """Check ``upload`` and store it on a record; return the row (committed).

    Who may add files and how many there are is checked before the file is
    read, and again under the record's lock when it is stored. Raises as
    ``prepare`` and ``attach`` do; a refusal stores nothing.
    """
    prepared = prepare_upload(upload, owner_type=owner_type, owner_id=owner_id, actor=actor)
    return attach(prepared, owner_type=owner_type, owner_id=owner_id, actor=actor, now=now)


def prepare_upload(upload, *, owner_type: str, owner_id: int, actor: User) -> Prepared:
    """Check that ``actor`` may add ``upload`` to the record, then check the file; return it for ``attach``.

    Ends its transaction before reading the file, so ``attach`` runs in a
    new one (where a form's one-time key is claimed too: web.once).
    """
    owner = _owner(owner_type)
    try:
        _authorise(owner, owner.load(owner_id), actor)
        _check_count(owner_type, owner_id)
    finally:
        # End the read before the slow part: on SQLite it holds the write lock.
        db.session.rollback()
    return prepare(upload)


def file_ticket_with_photo(request, upload, *, requester: User, now: datetime) -> Ticket:
    """File a ticket with an optional photo, in one transaction; return the ticket (committed).

    The photo is checked first, before the ticket's transaction starts:
    when it is refused (ValidationFailed) nothing is filed. Otherwise the
    ticket, its "filed" and "attachment added" events and the attachment
    row are committed together, or not at all (and then no file is left).
    """
    if upload is None or not getattr(upload, "filename", None):
        return ticket_service.file_ticket(request, requester=requester, now=now)
    prepared = prepare(upload)
    placed: list[Path] = []

    def add_photo(ticket: Ticket) -> None:
        _store(prepared, owner_type="ticket", owner_id=ticket.id, row=ticket, actor=requester, now=now,
               placed=placed)

    try:
        return ticket_service.file_ticket(request, requester=requester, now=now, before_commit=add_photo)
    except BaseException:
        for path in placed:
            path.unlink(missing_ok=True)
        raise
    finally:
        prepared.discard()


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class Download:
    path: Path
    download_name: str
    content_type: str


def open_for_download(attachment_id: int, *, user: User, thumbnail: bool = False) -> Download:
    """Return where a file is and how to send it.

    Raises NotFound alike for no such attachment, one whose record ``user``
    may not see, and a missing thumbnail or file.
    """
    attachment = db.session.get(Attachment, attachment_id)
    owner = _OWNERS.get(attachment.owner_type) if attachment is not None else None
    if owner is None or not user.is_active:
        raise NotFound()
    row = owner.load(attachment.owner_id)
    if row is None or not owner.can_view(user, row):
        raise NotFound()
    root = _root()
    if thumbnail:
        if not attachment.has_thumbnail:
            raise NotFound()
        path = _thumbnail_path(root, attachment.stored_name)
        name = Path(attachment.original_name).stem + "-thumbnail.jpg"
        found = Download(path=path, download_name=name, content_type="image/jpeg")
    else:
        path = _file_path(root, attachment.stored_name)
        found = Download(path=path, download_name=download_name(attachment), content_type=attachment.content_type)
    if not path.is_file():
        log.error("attachment %s: file %s is missing", attachment.id, path)
        raise NotFound()
    return found


def attachments_of(owner_type: str, owner_id: int) -> list[Attachment]:
    """Return a record's attachments, oldest first (the caller has checked it may see the record)."""
    return list(
        db.session.execute(
            select(Attachment)
            .where(Attachment.owner_type == owner_type, Attachment.owner_id == owner_id)
            .order_by(Attachment.id)
        ).scalars()
    )


def may_attach(user: User, owner_type: str, row) -> bool:
    """Return whether ``user`` may add files to ``row`` (to offer the form)."""
    owner = _owner(owner_type)
    return row is not None and user.is_active and owner.can_view(user, row) and owner.can_attach(user, row)


def count_limit() -> int:
    return current_app.config["ATTACHMENTS_PER_OWNER_MAX"]


# ---------------------------------------------------------------- tickets


def _load_ticket(ticket_id: int) -> Ticket | None:
    return db.session.get(Ticket, ticket_id)


def _lock_ticket(ticket_id: int) -> Ticket | None:
    return db.session.execute(select(Ticket).where(Ticket.id == ticket_id).with_for_update().execution_options(populate_existing=True)).scalar_one_or_none()


def _can_view_ticket(user: User, ticket: Ticket) -> bool:
    return ticket_service.can_view(user, ticket)


def _can_attach_to_ticket(user: User, ticket: Ticket) -> bool:
    """The requester and the centre's technicians, dispatchers and head, until the ticket is closed or cancelled.

    As for comments, leadership and administrators read only. A resolved
    ticket still takes files: the requester may show what is still wrong.
    """
    if ticket.status in FINAL_STATUSES:
        return False
    if ticket.requester_id == user.id:
        return True
    return bool(ticket_service.relations(user, ticket) & {Relation.TECHNICIAN, Relation.DISPATCHER})


def _ticket_event(ticket: Ticket, attachment: Attachment, actor: User, now: datetime) -> None:
    db.session.add(
        TicketEvent(
            ticket_id=ticket.id,
            kind=EventKind.ATTACHMENT_ADDED,
            actor_id=actor.id,
            created_at=now,
            data={
                "attachment_id": attachment.id,
                "file_name": attachment.original_name,
                "content_type": attachment.content_type,
                "size_bytes": attachment.size_bytes,
            },
        )
    )


register_owner(
    "ticket",
    load=_load_ticket,
    lock=_lock_ticket,
    can_view=_can_view_ticket,
    can_attach=_can_attach_to_ticket,
    event=_ticket_event,
)
