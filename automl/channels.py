"""Input channels -> pandas: CSV or Parquet, Gzip, one object, a prefix, or a ManifestFile, on local disk,
`file://`, `https://` or `s3://` (any S3-compatible endpoint, from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL).

Every error names the channel's field (`InputDataConfig[0].DataSource.S3DataSource.S3Uri`) and the file.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from automl.errors import field_error

CSV = "text/csv;header=present"
PARQUET = "x-application/vnd.amazon+parquet"
CONTENT_TYPES = (CSV, PARQUET)
GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
IGNORED_NAMES = ("_SUCCESS", ".DS_Store")
CSV_BLOCK_BYTES = 16 << 20  # a CSV's column types are inferred from its first block


def storage_options(uri: str) -> dict:
    if uri.startswith("s3://"):
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        return {"client_kwargs": {"endpoint_url": endpoint}} if endpoint else {}
    return {}


def filesystem(uri: str):
    """(fsspec filesystem, path inside it) for any location the engine accepts."""
    import fsspec.core

    if uri.startswith("file://"):
        uri = uri[len("file://"):]
    if "://" not in uri:
        uri = os.path.abspath(os.path.expanduser(uri))
    return fsspec.core.url_to_fs(uri, **storage_options(uri))


def join_uri(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *[p.strip("/") for p in parts]])


@dataclass(frozen=True)
class DataObject:
    uri: str
    size: int


@dataclass(frozen=True)
class ChannelSource:
    """One channel's location and format, plus the field path its errors name."""

    uri: str
    data_type: str  # S3Prefix | ManifestFile
    compression: str  # None | Gzip
    content_type: str | None  # None: decided per file by its magic bytes
    field: str

    @property
    def uri_field(self) -> str:
        return f"{self.field}.DataSource.S3DataSource.S3Uri"


def list_objects(source: ChannelSource) -> list[DataObject]:
    uris = _manifest_entries(source) if source.data_type == "ManifestFile" else [source.uri]
    objects: list[DataObject] = []
    for uri in uris:
        objects.extend(_expand(uri, source))
    if not objects:
        raise field_error(source.uri_field, "matches no data file", source.uri)
    return objects


def _protocol_prefix(uri: str) -> str:
    return uri.split("://", 1)[0] + "://" if "://" in uri and not uri.startswith("file://") else ""


def _expand(uri: str, source: ChannelSource) -> list[DataObject]:
    """One object, every object under a folder/prefix (sorted by key), or every key starting with the prefix."""
    fs, path = filesystem(uri)
    prefix = _protocol_prefix(uri)
    try:
        if fs.isfile(path):
            return [DataObject(prefix + path if prefix else path, fs.size(path))]
        if fs.isdir(path):
            found = fs.find(path, detail=True)
        else:
            parent = path.rsplit("/", 1)[0]
            found = {k: v for k, v in fs.find(parent, detail=True).items() if k.startswith(path)} \
                if fs.exists(parent) else {}
    except (OSError, ValueError) as exc:
        raise field_error(source.uri_field, f"could not be listed: {exc}", uri) from None
    objects = []
    for key in sorted(found):
        info = found[key]
        name = key.rsplit("/", 1)[-1]
        if info.get("type") == "directory" or name in IGNORED_NAMES or name.startswith("."):
            continue
        objects.append(DataObject(prefix + key if prefix else key, int(info.get("size") or 0)))
    return objects


def _manifest_entries(source: ChannelSource) -> list[str]:
    """Autopilot's ManifestFile: `[{"prefix": "s3://bucket/dir/"}, "relative/key1", "relative/key2"]`."""
    raw = _read_bytes(source.uri, source)
    try:
        entries = json.loads(raw)
    except ValueError as exc:
        raise field_error(source.uri_field, f"is not a valid manifest (JSON list): {exc}", source.uri) from None
    if (not isinstance(entries, list) or len(entries) < 2 or not isinstance(entries[0], dict)
            or not isinstance(entries[0].get("prefix"), str) or not all(isinstance(e, str) for e in entries[1:])):
        raise field_error(source.uri_field, 'a manifest must be [{"prefix": "..."}, "key", ...] with at least one key',
                          source.uri)
    prefix = entries[0]["prefix"]
    if not prefix.startswith(("s3://", "https://", "file://", "/")):
        base = os.path.dirname(source.uri.removeprefix("file://")) if "://" not in source.uri or \
            source.uri.startswith("file://") else source.uri.rsplit("/", 1)[0]
        prefix = os.path.join(base, prefix)
    return [join_uri(prefix, key) if prefix.endswith("/") or "://" in prefix else os.path.join(prefix, key)
            for key in entries[1:]]


def _open(uri: str, source: ChannelSource):
    """The object opened for reading; a missing or unreadable one is the channel's error."""
    fs, path = filesystem(uri)
    try:
        return fs.open(path, "rb")
    except FileNotFoundError:
        raise field_error(source.uri_field, "does not exist", uri) from None
    except OSError as exc:
        raise field_error(source.uri_field, f"could not be read: {exc}", uri) from None


def _read_bytes(uri: str, source: ChannelSource) -> bytes:
    with _open(uri, source) as handle:
        try:
            return handle.read()
        except OSError as exc:
            raise field_error(source.uri_field, f"could not be read: {exc}", uri) from None


@contextmanager
def _opened(obj: DataObject, source: ChannelSource):
    """The object as a stream, Gzip (by CompressionType or its magic bytes) decompressed as it is read, so a
    large file is never held whole in memory."""
    with _open(obj.uri, source) as handle:
        magic = handle.read(2)
        if not magic:
            raise field_error(source.uri_field, f"file {obj.uri} is empty")
        handle.seek(0)
        if source.compression == "Gzip" or magic == GZIP_MAGIC:
            with gzip.GzipFile(fileobj=handle) as stream:
                yield stream
        else:
            yield handle


def _peek(stream, obj: DataObject, source: ChannelSource, size: int) -> bytes:
    """The first `size` bytes (the stream is rewound); a Gzip error or an empty payload is the user's."""
    try:
        head = stream.read(size)
        stream.seek(0)
    except (OSError, EOFError) as exc:
        raise field_error(source.uri_field, f"file {obj.uri} is not valid Gzip: {exc}") from None
    if not head:
        raise field_error(source.uri_field, f"file {obj.uri} is empty after decompression")
    return head


def _is_parquet(head: bytes, source: ChannelSource) -> bool:
    if source.content_type is not None:
        return source.content_type == PARQUET
    return head[:4] == PARQUET_MAGIC


def _header_of(obj: DataObject, source: ChannelSource) -> list[str]:
    with _opened(obj, source) as stream:
        head = _peek(stream, obj, source, 1 << 20)
        if _is_parquet(head, source):
            try:
                return list(pq.read_schema(stream).names)
            except (pa.ArrowInvalid, OSError) as exc:
                raise field_error(source.uri_field, f"file {obj.uri} is not valid Parquet: {exc}") from None
    first = head.decode("utf-8", errors="replace").splitlines()
    if not first or not first[0].strip():
        raise field_error(source.uri_field, f"file {obj.uri} has no header row")
    return next(csv.reader(io.StringIO(first[0])))


def read_header(source: ChannelSource) -> list[str]:
    """The column names of the channel's first file, cheap enough to call while creating the job."""
    return _header_of(list_objects(source)[0], source)


def _read_csv(stream, header: list[str] | None) -> pa.Table:
    """Record batches of CSV_BLOCK_BYTES parsed in turn; `header` given: every column read as text (types
    inferred from the first block did not hold further down; the column kinds coerce them later)."""
    convert = pacsv.ConvertOptions(strings_can_be_null=True,
                                   column_types={name: pa.string() for name in header or []})
    reader = pacsv.open_csv(stream, read_options=pacsv.ReadOptions(use_threads=True, block_size=CSV_BLOCK_BYTES),
                            convert_options=convert)
    return pa.Table.from_batches(list(reader), schema=reader.schema)


def _read_one(obj: DataObject, source: ChannelSource) -> pa.Table:
    with _opened(obj, source) as stream:
        parquet = _is_parquet(_peek(stream, obj, source, 4), source)
        try:
            if parquet:
                return pq.read_table(stream)
            try:
                return _read_csv(stream, None)
            except pa.ArrowInvalid as exc:
                if "conversion error" not in str(exc).lower():
                    raise
                stream.seek(0)
                return _read_csv(stream, _header_of(obj, source))
        except (pa.ArrowInvalid, OSError, EOFError) as exc:
            kind = "Parquet" if parquet else "CSV with a header row"
            raise field_error(source.uri_field, f"file {obj.uri} could not be read as {kind}: {exc}") from None


def read_frame(source: ChannelSource) -> pd.DataFrame:
    """Every file of the channel, in key order, checked to share the first file's header. Arrow's buffers are
    released column by column while pandas takes them over, so the peak stays near one copy of the data."""
    tables, header = [], None
    for obj in list_objects(source):
        table = _read_one(obj, source)
        if header is None:
            header = table.column_names
        elif table.column_names != header:
            raise field_error(source.uri_field, f"file {obj.uri} has header {table.column_names} but the first file "
                              f"has {header}; every file of a channel must share one header")
        tables.append(table)
    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        table = pa.concat_tables([t.cast(pa.schema([(n, pa.string()) for n in header])) for t in tables])
    del tables
    return table.to_pandas(self_destruct=True, split_blocks=True)


def read_any(data) -> pd.DataFrame:
    """A DataFrame as is, or any location readable as a channel, format told by its bytes (used by predict)."""
    if isinstance(data, pd.DataFrame):
        return data
    source = ChannelSource(str(data), "S3Prefix", "None", None, "input")
    return read_frame(source)
