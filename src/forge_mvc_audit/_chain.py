# pyright: strict
"""Le format des scellements : encodage canonique, empreintes, MAC, lecture.

Partagé par `seal.py` (qui écrit la chaîne), `verify.py` (qui la recalcule) et
`retention.py` (qui y inscrit les purges). Rien ici n'écrit en base.

Une entrée est encodée en tableau JSON de ses neuf colonnes (`null` distinct de
`""`, séparateurs sans ambiguïté), hachée en SHA-256. Un scellement porte :

- `digest` : SHA-256 de la suite des empreintes de ses entrées (32 octets
  chacune, dans l'ordre des id) — la preuve forte ;
- `fingerprints` : les 8 premiers octets de chaque empreinte, en hexadécimal —
  de quoi désigner l'entrée modifiée, pas davantage ;
- `gaps` : les id absents de sa plage au moment du scellement (trous laissés
  par des insertions annulées), pour ne jamais les prendre pour des
  suppressions ;
- `mac` : HMAC-SHA-256 (clé `AUDIT_SEAL_KEY`) ou SHA-256 simple de tous ses
  champs, y compris `seq` et le `mac` du scellement précédent (la chaîne).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import json.encoder
import operator
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, cast

from core.database import db as forge_db
from core.database.backend import get_backend

from forge_mvc_audit.entry import ENTRY_COLUMNS
from forge_mvc_audit.errors import AuditError
from forge_mvc_audit.tables import SEAL_TABLE_NAME, TABLE_NAME

__all__ = [
    "FINGERPRINT_BYTES",
    "FORMAT",
    "KEY_ENV",
    "KIND_PURGE",
    "KIND_SEAL",
    "MODE_HMAC",
    "MODE_PLAIN",
    "SEAL_COLUMNS",
    "SEAL_MAX_GAPS",
    "SEAL_MAX_ROWS",
    "Seal",
    "chain_head",
    "compute_mac",
    "decode_gaps",
    "encode_gaps",
    "fingerprint",
    "insert_seals",
    "iter_rows",
    "iter_seals",
    "read_key",
    "row_hash",
    "run_seal_db",
    "seal_from_row",
]

#: Version de l'encodage, incluse dans chaque MAC : un format futur ne peut pas
#: être confondu avec celui-ci.
FORMAT = "forge-audit-seal/1"
KEY_ENV = "AUDIT_SEAL_KEY"
MODE_HMAC = "hmac-sha256"
MODE_PLAIN = "sha256"
KIND_SEAL = "seal"
KIND_PURGE = "purge"

#: Bornes d'un scellement : ses champs texte tiennent dans un TEXT MariaDB
#: (64 Ko) : 2048 empreintes de 16 caractères, 512 trous de 42 au plus.
SEAL_MAX_ROWS = 2048
SEAL_MAX_GAPS = 512
FINGERPRINT_BYTES = 8

SEAL_COLUMNS: tuple[str, ...] = (
    "seq",
    "kind",
    "first_id",
    "last_id",
    "row_count",
    "gaps",
    "fingerprints",
    "max_created",
    "digest",
    "prev_mac",
    "mode",
    "mac",
    "created_at",
)

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_quote: Callable[[str], str] = json.encoder.encode_basestring  # pyright: ignore[reportUnknownMemberType]
_row_values = cast(
    "Callable[[dict[str, Any]], tuple[object, ...]]", operator.itemgetter(*ENTRY_COLUMNS)
)
_ROW_SELECT = f"SELECT {', '.join(ENTRY_COLUMNS)} FROM {TABLE_NAME}"


def read_key(key: str | bytes | None) -> bytes | None:
    """La clé de scellement : `key` si donnée, sinon `AUDIT_SEAL_KEY`, sinon None."""
    if key is None:
        key = os.environ.get(KEY_ENV) or None
    if key is None:
        return None
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not key:
        return None
    return key


def _other(value: object) -> str:
    if isinstance(value, int):
        return str(value)
    # La valeur brute, pas sa forme d'affichage : une fraction de seconde
    # ajoutée après coup doit changer l'empreinte.
    text = value.isoformat(sep=" ") if isinstance(value, datetime) else str(value)
    return _quote(text)


def row_hash(row: dict[str, Any]) -> bytes:
    """SHA-256 de l'encodage canonique d'une ligne-dict du pilote.

    L'encodage est le tableau JSON compact des neuf colonnes (`null` pour
    NULL, chaînes JSON échappées, UTF-8), assemblé champ par champ : c'est le
    chemin chaud de la vérification.
    """
    fields = [
        "null" if v is None else _quote(v) if type(v) is str else _other(v)
        for v in _row_values(row)
    ]
    return hashlib.sha256(("[" + ",".join(fields) + "]").encode("utf-8")).digest()


def fingerprint(digest: bytes) -> str:
    return digest[:FINGERPRINT_BYTES].hex()


def encode_gaps(first_id: int, gaps: list[tuple[int, int]]) -> str | None:
    """Trous [a, b] inclus, encodés relativement : [[écart, longueur], ...]."""
    if not gaps:
        return None
    out: list[list[int]] = []
    previous_end = first_id - 1
    for start, end in gaps:
        out.append([start - previous_end - 1, end - start + 1])
        previous_end = end
    return _ENCODER.encode(out)


def decode_gaps(first_id: int, text: str | None) -> list[tuple[int, int]]:
    """Inverse d'`encode_gaps` ; un texte illisible lève `ValueError`."""
    if not text:
        return []
    data = json.loads(text)
    if not isinstance(data, list):
        raise ValueError("gaps")
    out: list[tuple[int, int]] = []
    previous_end = first_id - 1
    for item in data:  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(item, list) or len(item) != 2:  # pyright: ignore[reportUnknownArgumentType]
            raise ValueError("gaps")
        delta, length = item  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(delta, int) or not isinstance(length, int) or delta < 0 or length < 1:
            raise ValueError("gaps")
        start = previous_end + 1 + delta
        out.append((start, start + length - 1))
        previous_end = start + length - 1
    return out


@dataclass(frozen=True, slots=True)
class Seal:
    """Une ligne de `audit_seal`. `kind` : « seal » (segment) ou « purge »."""

    seq: int
    kind: str
    first_id: int
    last_id: int
    row_count: int
    gaps: str | None
    fingerprints: str | None
    max_created: str | None
    digest: str
    prev_mac: str | None
    mode: str
    mac: str
    created_at: str

    def values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in SEAL_COLUMNS)


def compute_mac(seal: Seal, key: bytes | None) -> str:
    """Le MAC d'un scellement, sur tous ses champs sauf `mac` lui-même."""
    payload = _ENCODER.encode([FORMAT, *seal.values()[:-2], seal.created_at]).encode("utf-8")
    if seal.mode == MODE_HMAC:
        if key is None:
            raise AuditError(
                f"Ce scellement est en HMAC : la clé {KEY_ENV} est nécessaire pour le calculer."
            )
        return hmac.new(key, payload, hashlib.sha256).hexdigest()
    return hashlib.sha256(payload).hexdigest()


def _opt_text(value: object) -> str | None:
    return None if value is None else str(value)


def seal_from_row(row: dict[str, Any]) -> Seal:
    return Seal(
        seq=int(row["seq"]),
        kind=str(row["kind"]),
        first_id=int(row["first_id"]),
        last_id=int(row["last_id"]),
        row_count=int(row["row_count"]),
        gaps=_opt_text(row["gaps"]),
        fingerprints=_opt_text(row["fingerprints"]),
        max_created=_opt_text(row["max_created"]),
        digest=str(row["digest"]),
        prev_mac=_opt_text(row["prev_mac"]),
        mode=str(row["mode"]),
        mac=str(row["mac"]),
        created_at=str(row["created_at"]),
    )


def run_seal_db[T](call: Callable[[], T]) -> T:
    """Exécute `call`, en traduisant « table audit_seal absente » en `AuditError`."""
    try:
        return call()
    except Exception as error:
        try:
            undefined = bool(get_backend().is_undefined_table_error(error))
        except Exception:
            undefined = False
        if undefined:
            raise AuditError(
                f"La table {SEAL_TABLE_NAME} (ou {TABLE_NAME}) est absente de la base : "
                "lancez `forge audit:init` puis `forge migration:apply`."
            ) from error
        raise


def iter_seals(
    db: Any = None, *, from_seq: int = 0, light: bool = False, batch: int = 64
) -> Iterator[Seal]:
    """Les scellements par `seq` croissant à partir de `from_seq`, par lots.

    `light` ne lit pas les empreintes ni les trous (planification d'une purge).
    """
    handle: Any = forge_db if db is None else db
    columns = SEAL_COLUMNS
    if light:
        columns = tuple(c for c in SEAL_COLUMNS if c not in ("gaps", "fingerprints"))
    sql = (
        f"SELECT {', '.join(columns)} FROM {SEAL_TABLE_NAME} WHERE seq >= ? ORDER BY seq"
        f"{get_backend().dialect.limit_clause()}"
    )
    cursor = from_seq
    while True:
        params = [cursor, batch]
        rows: list[dict[str, Any]] = run_seal_db(partial(handle.fetch_all, sql, params))
        for row in rows:
            if light:
                row = {**row, "gaps": None, "fingerprints": None}
            yield seal_from_row(row)
        if len(rows) < batch:
            return
        cursor = int(rows[-1]["seq"]) + 1


def iter_rows(
    db: Any = None, *, after_id: int, up_to: int | None = None, batch: int = 5000
) -> Iterator[list[dict[str, Any]]]:
    """Les entrées d'id > `after_id` (et <= `up_to`), par lots de clé croissante."""
    handle: Any = forge_db if db is None else db
    bound = "" if up_to is None else " AND id <= ?"
    sql = f"{_ROW_SELECT} WHERE id > ?{bound} ORDER BY id{get_backend().dialect.limit_clause()}"
    cursor = after_id
    while True:
        params: list[object] = [cursor] if up_to is None else [cursor, up_to]
        params.append(batch)
        rows: list[dict[str, Any]] = run_seal_db(partial(handle.fetch_all, sql, params))
        if rows:
            yield rows
        if len(rows) < batch:
            return
        cursor = int(rows[-1]["id"])


def chain_head(db: Any = None, *, tx: Any = None) -> tuple[Seal | None, int]:
    """Le dernier scellement (tête de chaîne) et le dernier id scellé (0 si aucun)."""
    handle: Any = forge_db if db is None else db
    limit = get_backend().dialect.limit_clause()
    kwargs: dict[str, Any] = {} if tx is None else {"tx": tx}
    head_sql = f"SELECT {', '.join(SEAL_COLUMNS)} FROM {SEAL_TABLE_NAME} ORDER BY seq DESC{limit}"
    row = run_seal_db(lambda: handle.fetch_one(head_sql, [1], **kwargs))
    if row is None:
        return None, 0
    end_sql = f"SELECT MAX(last_id) AS m FROM {SEAL_TABLE_NAME} WHERE kind = ?"
    end = run_seal_db(lambda: handle.fetch_one(end_sql, [KIND_SEAL], **kwargs))
    last_id = 0 if end is None or end["m"] is None else int(end["m"])
    return seal_from_row(row), last_id


def insert_seals(seals: list[Seal], db: Any = None) -> None:
    """Écrit des scellements dans une transaction ; un `seq` déjà pris lève `AuditError`."""
    from core.database.errors import UniqueViolationError
    from core.database.transaction import transaction

    handle: Any = forge_db if db is None else db
    sql = (
        f"INSERT INTO {SEAL_TABLE_NAME} ({', '.join(SEAL_COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in SEAL_COLUMNS)})"
    )
    try:
        with transaction() as tx:
            for seal in seals:
                run_seal_db(partial(handle.execute, sql, seal.values(), tx=tx))
    except UniqueViolationError:
        raise AuditError(
            "Un autre `forge audit:seal` ou `audit:gc` a prolongé la chaîne au même "
            "instant : rien n'a été écrit, relancez la commande."
        ) from None
