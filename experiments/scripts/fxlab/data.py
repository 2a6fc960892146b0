"""Experiment data on disk: JSONL read/write (errors name file:line), atomic writes, the data folder's
manifest and lock. What the records hold is each task's business (fxlab/tasks/); this module knows none.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import hashlib
import json
import math
import os
import signal
import tempfile
import threading
from pathlib import Path

from fxlab import UserError
from fxlab.config import Config, missing_file_message, short

RECORD_KEYS = ("id", "text", "target")  # what every file must have; eval needs no more
MANIFEST = "manifest.json"
# write_dataset writes a manifest with this key before it replaces the first split file, and the final
# manifest (without it) after the last: a folder whose manifest carries it may mix two runs' files.
INCOMPLETE = "incomplete"
LOCK = ".lock"
# Reading: a record line is at most a few KB; a longer line means the file is not line-based text (a huge
# newline-free file must not be read whole).
MAX_LINE_BYTES = 1 << 20


def make_dir(path: Path) -> Path:
    """mkdir -p; a file in the way (e.g. paths.results_dir names a file) is a UserError, not a traceback."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in [path, *path.parents] if p.is_symlink() and not p.exists()
                        or p.exists() and not p.is_dir()), path)
        what = "a broken symlink" if blocker.is_symlink() and not blocker.exists() else "a file"
        raise UserError(f"cannot create directory {path}: {blocker} is {what}; move it or choose another path") from None
    except OSError as e:
        if e.errno != errno.ELOOP:
            raise
        loop = symlink_loop(path) or path
        raise UserError(f"cannot create directory {path}: {loop} is a symbolic link loop (it leads back to "
                        "itself); replace the link or choose another path") from None
    return path


def current_umask() -> int:
    mask = os.umask(0o022)  # the only way to read the umask is to set it; put it straight back
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file in the same directory + os.replace, so readers never see half a file.

    The file gets the mode an ordinary `open(path, "w")` would give (0o666 & ~umask), not mkstemp's 0o600,
    so colleagues can read results on a shared machine. An interrupted write leaves at most a
    `.<name>.*.tmp` file, which `remove_stray_tmp` deletes.
    """
    path = Path(path)
    make_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def remove_stray_tmp(directory: Path) -> list[Path]:
    """Delete the temp files of writes that a SIGKILL interrupted (`.<name>.<random>.tmp`)."""
    directory = Path(directory)
    stray = sorted(directory.glob(".*.tmp")) if directory.is_dir() else []
    for p in stray:
        p.unlink(missing_ok=True)
    return stray


def symlink_loop(path: Path) -> Path | None:
    """The first of `path`'s ancestors, or `path` itself, that is a symbolic link loop; None if there is none."""
    path = Path(path)
    for p in [*reversed(path.parents), path]:
        try:
            os.stat(p)
        except OSError as e:
            return p if e.errno == errno.ELOOP else None  # below a missing folder nothing can loop
    return None


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM (what `timeout`, schedulers and `docker stop` send). fxlab.cli.run_main turns it
    into exit 128 + signal after the script has cleaned up."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def sigterm_raises():
    """While the block runs, SIGTERM interrupts like Ctrl-C (Interrupted is raised, so `finally` blocks and
    atomic_write_bytes clean up) instead of killing the process outright."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


@contextlib.contextmanager
def dir_lock(directory: Path, doing: str = "using", instead: str = "give this run another --set paths.results_dir=...",
             keep_file: bool = True):
    """Hold an exclusive lock on `directory` (a flock on `<directory>/.lock`, which holds the pid), or raise
    UserError if another process holds it: "another process (pid N) is <doing> <directory>; wait for it to
    finish, or <instead>". The kernel releases the lock when the process ends, however it ends, so a
    killed process never leaves a stale lock (at most the file, which the next process simply locks).
    keep_file=False deletes the file on release, so the folder holds only what its owner wrote."""
    try:
        import fcntl
    except ImportError:  # not POSIX (Windows): no lock
        yield
        return
    make_dir(directory)
    path = Path(directory) / LOCK
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise UserError(f"another process (pid {holder}) is {doing} {directory}; wait for it to finish, or "
                            f"{instead}") from None
        # A holder that deletes the file on release may have done so between our open and our flock; the
        # lock is then on a deleted file, which the next process would not see: lock the path afresh.
        try:
            current = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        if not keep_file:
            path.unlink(missing_ok=True)  # still locked: nobody can take the lock of the deleted file
        os.close(fd)


def jsonl_bytes(records: list[dict]) -> bytes:
    return "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def write_jsonl(path: Path, records: list[dict]) -> None:
    atomic_write_bytes(path, jsonl_bytes(records))


def text_lines(path: Path, fmt: str, max_line: int | None = None):
    """Yield (line number, line without its "\\n") of a UTF-8 text file, streaming, for a line-based format
    (`fmt` names it in messages: "JSONL", "mathematics_dataset two-line").

    A leading UTF-8 BOM is dropped. Lines end at "\\n" only (U+2028 may sit in a text). A NUL byte (a
    binary file), a line longer than `max_line` bytes (default MAX_LINE_BYTES) or bytes that are not UTF-8
    raise UserError on the line where they occur, so a huge binary or newline-free file is never read whole.
    """
    path = Path(path)
    max_line = MAX_LINE_BYTES if max_line is None else max_line
    with open(path, "rb") as f:
        offset = 0
        for lineno in range(1, 1 << 62):
            raw = f.readline(max_line + 1)
            if not raw:
                return
            if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
                offset, raw = len(codecs.BOM_UTF8), raw[len(codecs.BOM_UTF8):]
            if b"\0" in raw:
                raise UserError(f"{path} is a binary file (a NUL byte on line {lineno}), not a text file")
            body = raw[:-1] if raw.endswith(b"\n") else raw
            if len(body) > max_line:
                raise UserError(f"{path}:{lineno}: line longer than {max_line} bytes; not a {fmt} file?")
            try:
                line = body.decode("utf-8")
            except UnicodeDecodeError as e:
                raise UserError(f"{path}: not UTF-8 text (byte {offset + e.start}) on line {lineno}; "
                                f"{fmt} files are UTF-8") from None
            offset += len(raw)
            yield lineno, line


def _number_list(value) -> bool:
    return isinstance(value, list) and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and (isinstance(x, int) or math.isfinite(x))
        for x in value)  # an int is finite; math.isfinite cannot take one past the float range


def _str_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


# The fields that eval, the metrics and the plots read, with the check each value must pass when present
# (None counts as absent for the optional ones): a bad value would otherwise crash after inference.
_FIELD_CHECKS = {
    "id": (lambda v: isinstance(v, (str, int)) and not isinstance(v, bool), "a string or an integer"),
    "text": (lambda v: isinstance(v, str) and v.strip() != "", "a non-empty string"),
    # an empty target cannot be scored: the model's empty answer means "no answer" and is always wrong
    "target": (lambda v: isinstance(v, str) and v.strip() != "", "a non-empty string"),
    "operands": (lambda v: v is None or _number_list(v), "a list of finite numbers"),
    "values": (lambda v: v is None or _number_list(v), "a list of finite numbers"),
    "units": (lambda v: v is None or _str_list(v), "a list of strings"),
    "kind": (lambda v: v is None or isinstance(v, str), "a string"),
    "module": (lambda v: v is None or isinstance(v, str), "a string"),
    "n_ops": (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0),
              "an integer >= 0"),
    "prediction": (lambda v: isinstance(v, str), "a string"),  # prediction rows (eval's output)
    "correct": (lambda v: isinstance(v, bool), "true or false"),
}


def check_record(record: dict, where: str) -> None:
    """Raise UserError (`where`: file:line) if a field of _FIELD_CHECKS has a value of the wrong type."""
    for key, (ok, what) in _FIELD_CHECKS.items():
        if key in record and not ok(record[key]):
            raise UserError(f"{where}: '{key}' must be {what}, got {short(record[key])}")


def iter_jsonl(path: Path, required: tuple[str, ...] = RECORD_KEYS):
    """Stream the records of a JSONL file (see read_jsonl)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(missing_file_message(path, "data file"))
    for lineno, line in text_lines(path, "JSONL"):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
        except RecursionError:
            raise UserError(f"{path}:{lineno}: JSON nested too deeply to read") from None
        except ValueError:  # int() of a literal past Python's 4300-digit conversion limit
            raise UserError(f"{path}:{lineno}: a number with more than 4300 digits; write it as a string") from None
        if not isinstance(record, dict):
            raise UserError(f"{path}:{lineno}: expected a JSON object, got {type(record).__name__}")
        if "\\ud" in line or "\\uD" in line:  # a \uXXXX escape can make a lone surrogate, which no file can hold
            try:
                json.dumps(record, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                raise UserError(f"{path}:{lineno}: a \\ud800-\\udfff escape that is not part of a surrogate "
                                "pair; that is not a character") from None
        missing = [k for k in required if k not in record]
        if missing:
            raise UserError(f"{path}:{lineno}: record is missing key(s) {', '.join(missing)}")
        check_record(record, f"{path}:{lineno}")
        yield record


def read_jsonl(path: Path, required: tuple[str, ...] = RECORD_KEYS) -> list[dict]:
    """Records of a JSONL file. A corrupt line, a missing key or a field of the wrong type (check_record)
    raises UserError naming `file:line`; a binary, non-UTF-8 or newline-free file too (text_lines)."""
    return list(iter_jsonl(path, required))


def split_path(cfg: Config, split: str) -> Path:
    return cfg.data_path / f"{split}.jsonl"


def load_split(cfg: Config, split: str, required: tuple[str, ...] = RECORD_KEYS) -> list[dict]:
    """A generated split, checked against the manifest.json of generate_data.py (see `verified_sha256`); a
    missing data dir or file says which command creates it."""
    path = split_path(cfg, split)
    loop = symlink_loop(path)
    if loop is not None:
        raise UserError(f"{loop} is a symbolic link loop (it leads back to itself); replace the link, or choose "
                        "another paths.data_dir")
    if not path.is_file() and not path.is_symlink():
        what = "data dir" if not cfg.data_path.is_dir() else "data file"
        where = cfg.data_path if what == "data dir" else path
        raise UserError(f"{what} {where} not found; run generate_data.py --config {cfg.source} first")
    expected = verified_sha256(cfg, path)
    records = read_jsonl(path, required)
    if file_sha256(path) != expected:  # replaced while it was read: by a generate_data.py run now writing
        raise UserError(f"{path} changed while it was read; wait for generate_data.py to finish and run again")
    if not records:  # checked here, before any caller deletes checkpoints or reports a 0.0% accuracy
        raise UserError(f"data file {path} has no records; regenerate it with "
                        f"generate_data.py --config {cfg.source}")
    return records


def _manifest_bytes(manifest: dict) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()


def write_dataset(cfg: Config, splits: dict[str, list[dict]], out_dir: Path) -> dict:
    """Write `<split>.jsonl` files and a deterministic manifest.json (sizes + sha256); returns the manifest.

    A manifest marked INCOMPLETE replaces the old one before the first file is replaced, and the final
    manifest (without the mark) is written last. So a write cut short at any point (Ctrl-C, SIGTERM,
    SIGKILL) leaves a folder that load_split refuses, never a mixture of two runs' files under a manifest
    that vouches for them."""
    out_dir = Path(out_dir)
    base = {"task": cfg.task, "seed": cfg.seed, "data": cfg.to_dict()["data"]}
    blobs = {f"{split}.jsonl": jsonl_bytes(records) for split, records in splits.items()}
    atomic_write_bytes(out_dir / MANIFEST, _manifest_bytes({**base, INCOMPLETE: True, "files": {}}))
    files = {}
    for (name, blob), records in zip(blobs.items(), splits.values()):
        atomic_write_bytes(out_dir / name, blob)
        files[name] = {"n": len(records), "sha256": hashlib.sha256(blob).hexdigest()}
    manifest = {**base, "files": files}
    atomic_write_bytes(out_dir / MANIFEST, _manifest_bytes(manifest))
    return manifest


def write_manifest(out_dir: Path, task: str) -> dict:
    """A manifest.json for the `*.jsonl` files already in `out_dir`: hand-made data (not written by
    generate_data.py) that training and eval.py should accept. Returns the manifest."""
    out_dir = Path(out_dir)
    files = {}
    for path in sorted(out_dir.glob("*.jsonl")):
        blob = path.read_bytes()
        files[path.name] = {"n": sum(1 for line in blob.split(b"\n") if line.strip()),
                            "sha256": hashlib.sha256(blob).hexdigest()}
    manifest = {"task": task, "seed": None, "data": None, "files": files}
    atomic_write_bytes(out_dir / MANIFEST, _manifest_bytes(manifest))
    return manifest


def verified_sha256(cfg: Config, path: Path) -> str:
    """The sha256 of the split file `path`, after checking it against the manifest.json beside it: the
    manifest exists, is complete (not left by an interrupted generate_data.py), is of cfg's task and lists
    the file with this sha256. Otherwise a UserError says to rerun generate_data.py. (Files given by path,
    such as eval.py --data FILE, are read with read_jsonl and need no manifest.)"""
    path = Path(path)
    manifest_path = path.parent / MANIFEST
    rerun = f"rerun generate_data.py --config {cfg.source}"
    if not manifest_path.is_file():
        raise UserError(f"{path.parent} has no {MANIFEST}, so its files cannot be checked (not written by "
                        f"generate_data.py, or by an interrupted run); {rerun}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        manifest = None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        raise UserError(f"{manifest_path} is damaged (not a manifest of generate_data.py); {rerun}")
    if manifest.get(INCOMPLETE):
        raise UserError(f"{path.parent} holds an unfinished dataset (a generate_data.py run was interrupted, or "
                        f"is still writing); {rerun}")
    if manifest.get("task") != cfg.task:
        raise UserError(f"{path.parent} holds data of task {manifest.get('task')!r}, the config's task is "
                        f"{cfg.task!r}; {rerun}, or choose another paths.data_dir")
    entry = files.get(path.name)
    expected = entry.get("sha256") if isinstance(entry, dict) else None
    if not isinstance(expected, str):
        raise UserError(f"{manifest_path} does not list {path.name} (a file of another run); {rerun}")
    actual = file_sha256(path)
    if actual != expected:
        raise UserError(f"{path} does not match {manifest_path} (sha256 differs: the files come from different "
                        f"generate_data.py runs, or were edited); {rerun}")
    return actual


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
