"""The engine's settings (``streams.conf`` and ``steps.conf``, each app its own): every default,
the defaults derived from other settings, text parsed as an environment variable holds it,
invalid values named, and the values the engine reads following ``override_settings``."""

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from pydantic import ValidationError

from steps import conf as steps_conf
from streams import conf as streams_conf
from streams.conf import AppSettings

APPS: tuple[AppSettings[Any], ...] = (streams_conf.app_settings, steps_conf.app_settings)
SQLITE = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
POSTGRES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "app"}}
CONFIGURATION_DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def app_of(name: str) -> AppSettings[Any]:
    """The app whose setting ``name`` is."""
    (app,) = [app for app in APPS if name.startswith(app.prefix)]
    return app


def parse(**values: Any) -> Any:
    """The settings of both apps that ``values`` give, as one object."""
    return SimpleNamespace(**{k: v for a in APPS for k, v in a.model.model_validate(values)})


def read(source: object) -> dict[str, Any]:
    return {name: value for app in APPS for name, value in app.read(source).model_dump().items()}


def test_a_project_that_sets_nothing_gets_every_default() -> None:
    assert read(SimpleNamespace(DEBUG=False, DATABASES=SQLITE)) == {
        "STREAMS_AUTHENTICATE": None,
        "STREAMS_TOKEN_VERIFIER": "streams.sockets.verify_token",
        "STREAMS_ALLOWED_ORIGINS": (),
        "STREAMS_MAX_FRAME_BYTES": 65536,
        "STREAMS_MAX_SUBSCRIPTIONS": 500,
        "STREAMS_MAX_PENDING_FRAMES": 10_000,
        "STREAMS_MAX_PENDING_BYTES": 8 * 1024 * 1024,
        "STREAMS_SLOW_READER_TIMEOUT": 10.0,
        "STREAMS_SYNC_PAGE_BYTES": 1024 * 1024,
        "STREAMS_MAX_SYNC_BYTES": 16 * 1024 * 1024,
        "STREAMS_MAX_ITEM_BYTES": 1024 * 1024,
        "STREAMS_REPLAY_LOG_SIZE": 1000,
        "STREAMS_DB_THREADS": 1,
        "STREAMS_SYNC_THREADS": 4,
        "STEPS_VALIDATE_RESPONSES": False,
        "STEPS_EMBEDDED_WORKER": True,
        "STEPS_EMBEDDED_BEAT": True,
        "STEPS_EMBEDDED_WORKER_THREADS": 4,
        "STEPS_WORKER_HEARTBEAT_INTERVAL": 5.0,
        "STEPS_HEALTH_CHECK_TIMEOUT": 2.0,
        "STEPS_HEALTH_WORKER_MAX_AGE": 30.0,
        "STEPS_MOTIA_DOTENV": ".env",
        "STEPS_TRACE_EVENTS_KEPT": 100_000,
    }


def test_a_settings_object_without_debug_or_databases_still_reads() -> None:
    engine = SimpleNamespace(**read(SimpleNamespace()))
    assert engine.STEPS_VALIDATE_RESPONSES is False
    assert engine.STREAMS_DB_THREADS == 4
    assert engine.STEPS_EMBEDDED_WORKER is True


@pytest.mark.parametrize(
    ("databases", "threads"),
    [(SQLITE, 1), (POSTGRES, 4), ({"default": {"ENGINE": "myapp.backends.sqlite3"}}, 1)],
)
def test_database_threads_default_to_one_on_sqlite(databases: dict[str, Any], threads: int) -> None:
    assert threads == parse(DATABASES=databases).STREAMS_DB_THREADS
    assert parse(DATABASES=databases, STREAMS_DB_THREADS=2).STREAMS_DB_THREADS == 2


@pytest.mark.parametrize("debug", [True, False])
def test_responses_are_validated_as_debug_says_unless_set(debug: bool) -> None:
    assert parse(DEBUG=debug).STEPS_VALIDATE_RESPONSES is debug
    set_otherwise = parse(DEBUG=debug, STEPS_VALIDATE_RESPONSES=not debug)
    assert set_otherwise.STEPS_VALIDATE_RESPONSES is not debug


@pytest.mark.parametrize(
    ("broker", "embedded"),
    [
        (None, True),
        ("", True),
        ("memory://", True),
        ("memory://localhost/", True),
        ("redis://127.0.0.1:6379/0", False),
        ("amqp://guest@localhost//", False),
    ],
)
def test_the_embedded_worker_runs_when_no_broker_is_configured(
    broker: str | None, embedded: bool
) -> None:
    assert parse(CELERY_BROKER_URL=broker).STEPS_EMBEDDED_WORKER is embedded
    switched_off = parse(CELERY_BROKER_URL=broker, STEPS_EMBEDDED_WORKER=False)
    assert switched_off.STEPS_EMBEDDED_WORKER is False


def test_text_is_parsed_as_an_environment_variable_holds_it() -> None:
    engine = parse(
        STREAMS_MAX_FRAME_BYTES="131072",
        STREAMS_SLOW_READER_TIMEOUT="2.5",
        STEPS_EMBEDDED_BEAT="0",
        STEPS_VALIDATE_RESPONSES="on",
        STREAMS_ALLOWED_ORIGINS=" https://a.example.com, http://b.example.com:8080 ,",
        STREAMS_AUTHENTICATE=" ",
    )
    assert engine.STREAMS_MAX_FRAME_BYTES == 131072
    assert engine.STREAMS_SLOW_READER_TIMEOUT == 2.5
    assert engine.STEPS_EMBEDDED_BEAT is False
    assert engine.STEPS_VALIDATE_RESPONSES is True
    assert engine.STREAMS_ALLOWED_ORIGINS == ("https://a.example.com", "http://b.example.com:8080")
    assert engine.STREAMS_AUTHENTICATE is None
    assert parse(STREAMS_ALLOWED_ORIGINS=["*"]).STREAMS_ALLOWED_ORIGINS == ("*",)
    assert parse(STREAMS_REPLAY_LOG_SIZE=0).STREAMS_REPLAY_LOG_SIZE == 0


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("STREAMS_MAX_FRAME_BYTES", 0, "must be a positive integer (got 0)"),
        ("STREAMS_MAX_SUBSCRIPTIONS", "many", "must be a positive integer (got 'many')"),
        ("STREAMS_MAX_ITEM_BYTES", 1.5, "must be a positive integer (got 1.5)"),
        ("STREAMS_MAX_PENDING_FRAMES", -1, "must be a positive integer"),
        ("STREAMS_MAX_PENDING_BYTES", None, "must be a positive integer (got None)"),
        ("STREAMS_REPLAY_LOG_SIZE", -1, "must be an integer, 0 or more (got -1)"),
        ("STREAMS_DB_THREADS", 0, "must be a positive integer"),
        ("STREAMS_SYNC_THREADS", "", "must be a positive integer"),
        ("STEPS_EMBEDDED_WORKER_THREADS", 0, "must be a positive integer"),
        ("STREAMS_SLOW_READER_TIMEOUT", 0, "must be a positive number of seconds (got 0)"),
        ("STEPS_WORKER_HEARTBEAT_INTERVAL", "soon", "must be a positive number of seconds"),
        ("STEPS_HEALTH_CHECK_TIMEOUT", -2, "must be a positive number of seconds"),
        ("STEPS_HEALTH_WORKER_MAX_AGE", "", "must be a positive number of seconds"),
        ("STEPS_EMBEDDED_BEAT", "maybe", "STEPS_EMBEDDED_BEAT must be True or False"),
        ("STEPS_EMBEDDED_WORKER", 2, "must be True or False (got 2)"),
        ("STEPS_VALIDATE_RESPONSES", "sometimes", "must be True or False"),
        ("STREAMS_AUTHENTICATE", "authenticate", "must be a dotted path (module.name) or None"),
        ("STREAMS_AUTHENTICATE", 42, "must be a dotted path (module.name) or None (got 42)"),
        ("STREAMS_TOKEN_VERIFIER", "a.b c", "must be a dotted path (module.name) (got 'a.b c')"),
        ("STREAMS_TOKEN_VERIFIER", None, "must be a dotted path (module.name) (got None)"),
        ("STREAMS_ALLOWED_ORIGINS", "app.example.com", "(got 'app.example.com')"),
        ("STREAMS_ALLOWED_ORIGINS", ["https://a.example.com/app"], "must be a list of origins"),
        ("STREAMS_ALLOWED_ORIGINS", "ftp://a.example.com", "(got 'ftp://a.example.com')"),
        ("STREAMS_ALLOWED_ORIGINS", "https://a.example.com?x=1", "must be a list of origins"),
        ("STREAMS_ALLOWED_ORIGINS", 7, "must be a list of origins"),
    ],
)
def test_an_invalid_value_is_named_with_what_it_must_be(
    name: str, value: Any, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        parse(**{name: value})
    ((setting, said),) = app_of(name).problems(caught.value)
    assert setting == name
    assert said.startswith(f"{name} must be ")
    assert message in said


def test_each_invalid_setting_is_named_once() -> None:
    with pytest.raises(ValidationError) as caught:
        parse(STREAMS_ALLOWED_ORIGINS=["a", "b"], STREAMS_MAX_FRAME_BYTES=-1)
    assert [name for name, _ in streams_conf.app_settings.problems(caught.value)] == [
        "STREAMS_ALLOWED_ORIGINS",
        "STREAMS_MAX_FRAME_BYTES",
    ]


@pytest.mark.parametrize("name", [name for app in APPS for name in app.model.model_fields])
def test_every_setting_says_what_it_is_what_it_must_be_and_is_documented(name: str) -> None:
    """Each in its app's table of docs/configuration.md."""
    app = app_of(name)
    assert len(app.describe(name)) > 20
    assert app.expected(name) != "valid"
    section = CONFIGURATION_DOC.read_text().split(f"### `{app.model.__module__.split('.')[0]}`")
    assert len(section) == 2, "a section per app"
    own_table = section[1].split("\n#")[0]
    assert re.search(rf"^\| `{name}` \|", own_table, re.MULTILINE), name


# --- as the engine reads them ---------------------------------------------------------------


def test_the_engine_reads_an_overridden_setting_and_then_the_original_again() -> None:
    engine_settings = streams_conf.engine_settings
    before = engine_settings.STREAMS_MAX_FRAME_BYTES
    with override_settings(STREAMS_MAX_FRAME_BYTES=1234):
        assert engine_settings.STREAMS_MAX_FRAME_BYTES == 1234
    assert before == engine_settings.STREAMS_MAX_FRAME_BYTES


def test_a_derived_default_follows_the_setting_it_derives_from() -> None:
    engine_settings = steps_conf.engine_settings
    with override_settings(DEBUG=True):
        assert engine_settings.STEPS_VALIDATE_RESPONSES is True
    with override_settings(DEBUG=False):
        assert engine_settings.STEPS_VALIDATE_RESPONSES is False


def test_reading_an_invalid_setting_is_improperly_configured() -> None:
    """Each app's settings parse together: any of them names every invalid one of the app."""
    streams, steps = streams_conf.engine_settings, steps_conf.engine_settings
    invalid = override_settings(
        STREAMS_MAX_FRAME_BYTES=-5, STREAMS_SYNC_THREADS="x", STEPS_EMBEDDED_BEAT="maybe"
    )
    with invalid, pytest.raises(ImproperlyConfigured) as caught:
        streams.STREAMS_MAX_PENDING_BYTES  # noqa: B018
    assert str(caught.value) == (
        "STREAMS_MAX_FRAME_BYTES must be a positive integer (got -5); "
        "STREAMS_SYNC_THREADS must be a positive integer (got 'x')"
    )
    with invalid, pytest.raises(ImproperlyConfigured) as caught:
        steps.STEPS_TRACE_EVENTS_KEPT  # noqa: B018
    assert str(caught.value) == "STEPS_EMBEDDED_BEAT must be True or False (got 'maybe')"
    assert streams.STREAMS_SYNC_THREADS == 4
    assert isinstance(steps.STEPS_EMBEDDED_BEAT, bool)  # read again, valid
