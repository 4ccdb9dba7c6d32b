"""Lire le journal : périodes, curseur, compte — les mêmes sur les trois backends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from audit_rows import all_ids, insert_rows
from conftest import Backend
from forge_mvc_audit import (
    AuditError,
    count_audit,
    get_audit_log,
    iter_audit_rows,
    record_audit,
)

# Autour de la journée du 5 janvier 2026, aux secondes qui comptent.
STAMPS = [
    "2026-01-04 23:59:59",
    "2026-01-05 00:00:00",
    "2026-01-05 12:00:00",
    "2026-01-05 23:59:59",
    "2026-01-06 00:00:00",
]


@pytest.fixture
def day(audit_db: Backend) -> dict[str, int]:
    """Une entrée par horodatage de STAMPS ; rend horodatage -> id."""
    insert_rows({"action": "jour", "created_at": stamp} for stamp in STAMPS)
    by_stamp = {e.created_at: e.id for e in get_audit_log()}
    assert sorted(by_stamp) == STAMPS
    return by_stamp


def _stamps(**filters: object) -> list[str]:
    """Horodatages lus, du plus ancien au plus récent ; vérifie au passage que les trois
    lectures (page, compte, export) répondent la même chose."""
    entries = get_audit_log(**filters)  # type: ignore[arg-type]
    assert count_audit(**filters) == len(entries)  # type: ignore[arg-type]
    exported = [row["created_at"] for row in iter_audit_rows(batch_size=2, **filters)]  # type: ignore[arg-type]
    assert exported == [e.created_at for e in entries]
    return sorted(e.created_at for e in entries)


@pytest.mark.usefixtures("day")
class TestPeriods:
    def test_date_only_until_includes_the_whole_day(self) -> None:
        assert _stamps(until="2026-01-05") == STAMPS[:4]

    def test_date_only_since_starts_at_midnight(self) -> None:
        assert _stamps(since="2026-01-05") == STAMPS[1:]

    def test_one_day(self) -> None:
        assert _stamps(since="2026-01-05", until="2026-01-05") == STAMPS[1:4]
        assert _stamps(since=date(2026, 1, 5), until=date(2026, 1, 5)) == STAMPS[1:4]

    def test_until_with_a_time_includes_that_second(self) -> None:
        assert _stamps(until="2026-01-05 12:00:00") == STAMPS[:3]
        assert _stamps(since="2026-01-05 12:00:00", until="2026-01-05 12:00:00") == [STAMPS[2]]

    def test_since_later_the_same_day_than_a_date_only_until(self) -> None:
        # L'après-midi du 5 : pas une période inversée.
        assert _stamps(since="2026-01-05 12:00:00", until="2026-01-05") == STAMPS[2:4]

    def test_aware_datetimes_are_converted_to_utc(self) -> None:
        paris = timezone(timedelta(hours=1))
        assert _stamps(since=datetime(2026, 1, 5, 13, 0, tzinfo=paris)) == STAMPS[2:]
        new_york = timezone(timedelta(hours=-5))
        # 18:59:59 à New York le 4 = 23:59:59 UTC le 4.
        assert _stamps(until=datetime(2026, 1, 4, 18, 59, 59, tzinfo=new_york)) == STAMPS[:1]
        assert _stamps(since=datetime(2026, 1, 5, 12, 0, tzinfo=UTC)) == STAMPS[2:]

    def test_naive_datetimes_are_taken_as_utc(self) -> None:
        assert _stamps(since=datetime(2026, 1, 5, 12, 0)) == STAMPS[2:]
        # Les microsecondes ne font pas sortir la seconde de 12:00:00.
        assert _stamps(until=datetime(2026, 1, 5, 12, 0, 0, 999_999)) == STAMPS[:3]

    @pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
    def test_blank_strings_mean_no_bound(self, blank: str) -> None:
        assert _stamps(since=blank) == STAMPS
        assert _stamps(until=blank) == STAMPS
        assert _stamps(since=blank, until="2026-01-04") == STAMPS[:1]

    def test_far_bounds(self) -> None:
        assert _stamps(since="1000-01-01", until="9999-12-31") == STAMPS
        assert _stamps(since="0001-01-01") == STAMPS
        assert _stamps(since=datetime.min, until="0999-12-31") == []
        assert _stamps(until=datetime.max) == STAMPS
        assert _stamps(since="9999-12-31 23:59:59") == []
        assert _stamps(until="1999-12-31") == []

    def test_period_combines_with_filters_and_cursor(self, day: dict[str, int]) -> None:
        record_audit("autre")  # aujourd'hui, hors période
        cursor = day["2026-01-05 23:59:59"]
        assert _stamps(action="jour", since="2026-01-05", before_id=cursor) == STAMPS[1:3]
        assert _stamps(action="autre", until="2026-01-05") == []


BAD_BOUNDS: list[object] = [
    "2026-1-5",
    "05/01/2026",
    "2026-01-05T10:00:00",
    "2026-01-05 10:00",
    "2026-02-30",
    "2026-01-05 24:00:00",
    "hier",
    "2026-01-05 10:00:00+01:00",
    "２０２６-01-05",
    "٢٠٢٦-٠١-٠٥",
    20260105,
    b"2026-01-05",
    1.5,
]


@pytest.mark.fast
@pytest.mark.parametrize("bound", ["since", "until"])
@pytest.mark.parametrize("value", BAD_BOUNDS, ids=repr)
def test_bad_bounds_show_the_accepted_forms(bound: str, value: object) -> None:
    from forge_mvc_audit.query import build_filters

    with pytest.raises(AuditError) as caught:
        build_filters(**{bound: value})
    message = str(caught.value)
    assert message.startswith(bound)
    if isinstance(value, str):
        assert "AAAA-MM-JJ" in message and "AAAA-MM-JJ HH:MM:SS" in message
        assert repr(value) in message
    else:
        assert type(value).__name__ in message


@pytest.mark.fast
def test_out_of_range_aware_datetime_is_an_audit_error() -> None:
    from forge_mvc_audit.query import build_filters

    east = timezone(timedelta(hours=3))
    with pytest.raises(AuditError, match="since"):
        build_filters(since=datetime.min.replace(tzinfo=east))


@pytest.mark.fast
@pytest.mark.parametrize(
    ("since", "until", "shown"),
    [
        ("2026-01-06", "2026-01-05", ("2026-01-06", "2026-01-05")),
        (
            "2026-01-05 10:00:01",
            "2026-01-05 10:00:00",
            ("2026-01-05 10:00:01", "2026-01-05 10:00:00"),
        ),
        ("2026-01-06 00:00:00", "2026-01-05", ("2026-01-06 00:00:00", "2026-01-05")),
        (
            datetime(2026, 1, 5, 11, tzinfo=timezone(timedelta(hours=-1))),
            datetime(2026, 1, 5, 11, 59, 59),
            ("2026-01-05 12:00:00 UTC", "2026-01-05 11:59:59 UTC"),
        ),
    ],
)
def test_inverted_period_names_both_bounds(
    since: object, until: object, shown: tuple[str, str]
) -> None:
    from forge_mvc_audit.query import build_filters

    with pytest.raises(AuditError) as caught:
        build_filters(since=since, until=until)
    message = str(caught.value)
    assert "inversée" in message
    assert f"since ({shown[0]})" in message and f"until ({shown[1]})" in message


class _NoQuery:
    """Poignée de base qui échoue si on lui envoie quoi que ce soit."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"requête envoyée ({name}) malgré des filtres invalides")


@pytest.mark.fast
@pytest.mark.parametrize(
    "filters",
    [
        {"since": "hier"},
        {"until": "2026-13-01"},
        {"since": "2026-01-02", "until": "2026-01-01"},
        {"before_id": 0},
        {"actor": 3},
    ],
)
def test_every_reader_refuses_bad_filters_before_reading(filters: dict[str, object]) -> None:
    for read in (get_audit_log, count_audit, iter_audit_rows):
        with pytest.raises(AuditError):
            read(db=_NoQuery(), **filters)  # type: ignore[operator]


def test_cursor_walk_while_the_journal_grows(audit_db: Backend) -> None:
    """Page après page par before_id, avec des écritures entre les pages : chaque entrée
    présente au départ est lue une fois, ni sautée ni répétée (OFFSET sauterait)."""
    insert_rows({"action": "depart", "target_id": str(i)} for i in range(95))
    before = all_ids()
    seen: list[int] = []
    cursor: int | None = None
    while True:
        page = get_audit_log(limit=10, before_id=cursor)
        if not page:
            break
        seen.extend(e.id for e in page)
        cursor = page[-1].id
        record_audit("pendant", actor="concurrent")
        record_audit("pendant", actor="concurrent")
    assert seen == before
    assert count_audit(action="pendant") == 20


def test_export_walk_while_the_journal_grows(audit_db: Backend) -> None:
    insert_rows({"action": "depart", "actor": f"u{i % 3}"} for i in range(60))
    wanted = [e.id for e in get_audit_log(actor="u1", limit=1000)]
    exported: list[int] = []
    for row in iter_audit_rows(actor="u1", batch_size=4):
        exported.append(row["id"])
        # Même acteur, donc dans la sélection : seul le curseur l'écarte.
        record_audit("pendant", actor="u1")
    assert exported == wanted
    assert len(set(exported)) == len(exported) == 20
    assert count_audit(actor="u1") == 40


def test_count_equals_exported_rows_beyond_max_limit(audit_db: Backend) -> None:
    from forge_mvc_audit import MAX_LIMIT

    total = MAX_LIMIT + 234
    insert_rows(
        {
            "actor": f"user{i % 7}",
            "action": f"action{i % 3}",
            "target_type": "note" if i % 2 else "eleve",
            "target_id": str(i % 11),
            "created_at": f"2026-0{1 + i % 3}-1{i % 10} 08:00:00",
            "request_id": f"req-{i % 5}",
        }
        for i in range(total)
    )
    combos: list[dict[str, object]] = [
        {},
        {"actor": "user3"},
        {"action": "action1", "target_type": "note"},
        {"target_type": "eleve", "target_id": "4"},
        {"request_id": "req-2", "since": "2026-02-01"},
        {"since": "2026-01-15", "until": "2026-02-12"},
        {"before_id": 700, "actor": "user1"},
        {"actor": "personne"},
    ]
    for filters in combos:
        exported = list(iter_audit_rows(batch_size=97, **filters))  # type: ignore[arg-type]
        ids = [row["id"] for row in exported]
        assert ids == sorted(ids, reverse=True), filters
        assert len(set(ids)) == len(ids)
        assert count_audit(**filters) == len(exported), filters  # type: ignore[arg-type]
    assert count_audit() == total
    assert len(get_audit_log(limit=10**6)) == MAX_LIMIT  # la page, elle, reste plafonnée


@pytest.mark.usefixtures("audit_db")
@pytest.mark.parametrize("before_id", [0, -1, True, "5", 2**63, 1.0])
def test_bad_cursor_is_refused(before_id: object) -> None:
    for read in (get_audit_log, count_audit, iter_audit_rows):
        with pytest.raises(AuditError, match="before_id"):
            read(before_id=before_id)  # type: ignore[operator]


# Le curseur de l'export (id < ?) s'ajoute à chaque filtre : l'index doit tenir.
CURSOR_PLANS = [
    ({"actor": "user3", "before_id": 1500}, "idx_audit_log_actor"),
    ({"action": "action3", "before_id": 1500}, "idx_audit_log_action"),
    ({"target_type": "type3", "target_id": "5", "before_id": 1500}, "idx_audit_log_target"),
    ({"request_id": "r-1", "before_id": 1500}, "idx_audit_log_request"),
    ({"actor": "user3", "since": "2026-03-01", "until": "2026-03-31", "before_id": 900}, "idx_"),
]


def test_cursor_pages_stay_indexed(audit_db: Backend) -> None:
    from core.database import db

    from forge_mvc_audit.query import build_filters, where_clause
    from test_schema import _plan  # pyright: ignore[reportPrivateUsage]

    insert_rows(
        {
            "actor": f"user{i % 97}",
            "action": f"action{i % 61}",
            "target_type": f"type{i % 53}",
            "target_id": str(i % 211),
            "created_at": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d} 10:00:00",
            "request_id": f"r-{i % 700}",
        }
        for i in range(3000)
    )
    db.execute(
        {"mariadb": "ANALYZE TABLE audit_log", "postgres": "ANALYZE audit_log"}.get(
            audit_db.name, "ANALYZE"
        )
    )
    for filters, index in CURSOR_PLANS:
        where, params = where_clause(build_filters(**filters))
        sql = f"SELECT id, actor FROM audit_log{where} ORDER BY id DESC LIMIT ?"
        plan = _plan(audit_db, sql, [*params, 500])
        assert index in plan, f"{filters}: {plan}"
        assert "Seq Scan" not in plan and "type=ALL" not in plan
        assert "SCAN audit_log" not in plan.replace("USING", "")


def _shuffled_journal() -> list[tuple[int, str, str]]:
    """Trois acteurs, des dates sans rapport avec l'ordre des id ; rend (id, acteur, date)."""
    import random

    rng = random.Random(7)
    insert_rows(
        {
            "actor": f"u{rng.randrange(3)}",
            "action": f"a{i % 4}",
            "created_at": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
            f"{rng.randint(0, 23):02d}:00:00",
        }
        for i in range(600)
    )
    from core.database import db

    rows = db.fetch_all("SELECT id, actor, created_at FROM audit_log")
    return [(int(r["id"]), str(r["actor"]), str(r["created_at"])) for r in rows]


@pytest.mark.parametrize("probe_limit", [4000, 7], ids=["borne-exacte", "periode-fournie"])
def test_actor_period_reads_match_a_plain_scan(
    audit_db: Backend, monkeypatch: pytest.MonkeyPatch, probe_limit: int
) -> None:
    """L'acteur + période lit à partir du plus grand id trouvé dans (actor, created_at, id) :
    même réponse qu'un parcours naïf, les dates étant mélangées par rapport aux id."""
    from forge_mvc_audit import store

    monkeypatch.setattr(store, "PROBE_LIMIT", probe_limit)
    journal = _shuffled_journal()
    cases = [
        ("u0", "2026-03-01", "2026-03-31", None),
        ("u1", "2026-01-01", "2026-12-31", None),
        ("u2", "2026-06-10", "2026-06-10", None),
        ("u0", None, "2026-02-15", None),
        ("u1", "2026-05-01", "2026-08-31", 300),
        ("u2", "2026-02-01", "2026-04-30", 2),
        ("absent", "2026-01-01", "2026-12-31", None),
    ]
    for actor, since, until, before in cases:
        low = since or "0000"
        high = until + " 99"  # toute la journée de until
        expected = sorted(
            (
                row_id
                for row_id, who, stamp in journal
                if who == actor and low <= stamp <= high and (before is None or row_id < before)
            ),
            reverse=True,
        )
        filters = {"actor": actor, "since": since, "until": until, "before_id": before}
        assert [e.id for e in get_audit_log(limit=1000, **filters)] == expected, filters  # type: ignore[arg-type]
        assert [e.id for e in get_audit_log(limit=3, **filters)] == expected[:3], filters  # type: ignore[arg-type]
        assert count_audit(**filters) == len(expected), filters  # type: ignore[arg-type]


def test_actor_period_probe_reads_the_actor_created_index(audit_db: Backend) -> None:
    """SQLite : la lecture bornée passe par (actor, created_at, id). Un serveur n'en fait
    pas (il choisit son plan sur statistiques, voir PLANS de test_schema)."""
    from core.database import db

    from forge_mvc_audit.query import build_filters
    from forge_mvc_audit.store import period_probe
    from test_schema import _plan  # pyright: ignore[reportPrivateUsage]

    insert_rows(
        {
            "actor": f"user{i % 97}",
            "created_at": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d} 10:00:00",
        }
        for i in range(3000)
    )
    db.execute(
        {"mariadb": "ANALYZE TABLE audit_log", "postgres": "ANALYZE audit_log"}.get(
            audit_db.name, "ANALYZE"
        )
    )
    for filters in (
        {"actor": "user3", "since": "2026-03-01", "until": "2026-03-31"},
        {"actor": "user3", "action": "x", "until": "2026-03-31", "before_id": 900},
    ):
        query = period_probe(build_filters(**filters))
        if audit_db.name != "sqlite":
            assert query is None
            continue
        assert query is not None
        plan = _plan(audit_db, *query)
        assert "idx_audit_log_actor_created" in plan, f"{filters}: {plan}"
    assert period_probe(build_filters(actor="user3", since="2026-03-01")) is None
    assert period_probe(build_filters(action="a", until="2026-03-01")) is None
