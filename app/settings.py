"""Environment → one frozen settings object, read once at start-up.

Modules never read ``os.environ`` themselves: tests and the CLI build a
``Settings`` and hand it to ``create_app``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DEFAULT_API_URL = "https://api.github.com"
_PACKAGE = Path(__file__).resolve().parent


def shipped(folder: str) -> Path:
    """A folder Flywheel ships (``templates``, ``workflow-config``): inside the installed
    package (a wheel puts them there, ``workflow-config`` as ``workflow_config``), or beside
    the source folder in a checkout."""
    inside = _PACKAGE / folder.replace("-", "_")
    return inside if inside.is_dir() else _PACKAGE.parent / folder


def default_config_dir() -> Path:
    """``workflow-config`` in the working folder if there is one, else the shipped one: an
    installed Flywheel served from any folder finds its config."""
    here = Path("workflow-config")
    return here if here.is_dir() else shipped("workflow-config")


def is_postgres(location: str) -> bool:
    """Whether FLYWHEEL_DB names a PostgreSQL server rather than a SQLite file."""
    return location.startswith(("postgresql://", "postgres://"))


class SettingsError(Exception):
    """The environment cannot start the app; the message says what to set."""


def graphql_url_for(api_url: str) -> str:
    """GraphQL lives beside REST on github.com but at ``/api/graphql`` on GHES.

    >>> graphql_url_for("https://api.github.com")
    'https://api.github.com/graphql'
    >>> graphql_url_for("https://ghe.example.edu/api/v3/")
    'https://ghe.example.edu/api/graphql'
    """
    host = _ghes_host(api_url)
    return f"{host}/api/graphql" if host else api_url.rstrip("/") + "/graphql"


def web_url_for(api_url: str) -> str:
    """Where people see issues: github.com for its API, the host itself for GHES.

    >>> web_url_for("https://api.github.com")
    'https://github.com'
    >>> web_url_for("https://ghe.example.edu/api/v3")
    'https://ghe.example.edu'
    """
    return _ghes_host(api_url) or api_url.rstrip("/").replace("://api.", "://", 1)


def _ghes_host(api_url: str) -> str | None:
    """``https://host`` when the API is GitHub Enterprise Server's ``https://host/api/v3``."""
    parts = urlsplit(api_url.rstrip("/"))
    if parts.path.endswith("/api/v3"):
        return urlunsplit((parts.scheme, parts.netloc, parts.path[: -len("/api/v3")], "", ""))
    return None


@dataclass(frozen=True)
class Settings:
    app_id: str | None = None
    private_key: str | None = field(default=None, repr=False)
    webhook_secret: str | None = field(default=None, repr=False)
    api_url: str = DEFAULT_API_URL
    config_dir: Path = Path("workflow-config")
    db_path: Path = Path("flywheel.db")
    # FLYWHEEL_DB=postgresql://…: every store on that server instead of the SQLite file.
    database_url: str | None = field(default=None, repr=False)  # may hold a password
    # Replicas on PostgreSQL: a replica that stops renewing its claims (it died) loses them
    # after this long, and another runs them.
    lease_seconds: float = 30.0
    port: int = 8080
    host: str = "0.0.0.0"
    force_dry_run: bool = False
    workers: int = 8
    shutdown_grace_seconds: float = 20.0
    # A delivery failing for a reason that passes (5xx, rate limits, timeouts) is retried,
    # backing off up to retry_max_seconds, for this long since it arrived: a GitHub incident of a
    # few hours loses nothing. max_attempts is only a backstop.
    retry_for_seconds: float = 24 * 3600.0
    retry_max_seconds: float = 900.0  # the longest wait between two attempts
    max_attempts: int = 200
    github_timeout_seconds: float = 10.0
    retry_base_seconds: float = 2.0
    # The dashboard shows issue titles: it is off without a token, and asks for it once.
    dashboard_token: str | None = field(default=None, repr=False)
    # FLYWHEEL_EMBEDDING_MODEL: a folder with model.onnx and tokenizer.json; "off": words only;
    # unset: the shipped all-MiniLM-L6-v2 (int8).
    embedding_model: str | None = None
    # The App-manifest flow (/setup): where GitHub reaches us, whose App it is, where the
    # credentials go.
    public_url: str | None = None  # FLYWHEEL_PUBLIC_URL
    org: str | None = None  # FLYWHEEL_ORG
    env_file: Path = Path(".env")
    log_format: str = "text"  # FLYWHEEL_LOG_FORMAT: text for people, json for log shippers
    # FLYWHEEL_LINK_KEY: keys the digests naming private issues in public comments' markers.
    link_key_text: str | None = field(default=None, repr=False)

    @property
    def database(self) -> str:
        """Where every store lives: the PostgreSQL URL, or the SQLite file's path."""
        return self.database_url or str(self.db_path)

    @property
    def database_shown(self) -> str:
        """``database`` for a log line or a page (no password)."""
        return without_password(self.database_url) if self.database_url else str(self.db_path)

    @property
    def has_credentials(self) -> bool:
        return bool(self.app_id and self.private_key)

    @property
    def dry_run(self) -> bool:
        """Without App credentials nothing can be written, so we only print plans."""
        return self.force_dry_run or not self.has_credentials

    @property
    def link_key(self) -> bytes:
        """FLYWHEEL_LINK_KEY, or a key derived from the webhook secret: either way a secret,
        so a public reader cannot recompute which private issue a digest names."""
        if self.link_key_text:
            return self.link_key_text.encode()
        secret = (self.webhook_secret or "").encode()
        return hmac.new(secret, b"flywheel: private issue references", hashlib.sha256).digest()

    @property
    def graphql_url(self) -> str:
        return graphql_url_for(self.api_url)

    @property
    def web_url(self) -> str:
        return web_url_for(self.api_url)

    @property
    def verifies_signatures(self) -> bool:
        return bool(self.webhook_secret)

    def listen_host(self) -> str:
        """Unsigned intake is only safe on loopback, so dry-run without a secret binds there."""
        if not self.verifies_signatures:
            return "127.0.0.1"
        return self.host

    def check_startable(self) -> None:
        """Refuse a live start without a secret: unsigned deliveries could then act on GitHub."""
        if not self.dry_run and not self.webhook_secret:
            raise SettingsError(
                "GITHUB_WEBHOOK_SECRET is not set. A live app must verify every delivery: "
                "set it to the secret entered when registering the GitHub App, "
                "or start with --dry-run."
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if env is None else env
        private_key = env.get("GITHUB_PRIVATE_KEY") or None
        key_path = env.get("GITHUB_PRIVATE_KEY_PATH")
        if private_key is None and key_path:
            try:
                private_key = Path(key_path).read_text()
            except OSError as exc:
                raise SettingsError(
                    f"GITHUB_PRIVATE_KEY_PATH={key_path!r} cannot be read: {exc.strerror}"
                ) from None
        port_text = env.get("PORT", "8080")
        try:
            port = int(port_text)
        except ValueError:
            raise SettingsError(f"PORT must be a number, not {port_text!r}") from None
        check_port(port, "PORT")
        app_id = env.get("GITHUB_APP_ID") or None
        _check_credentials_pair(app_id, private_key)
        log_format = env.get("FLYWHEEL_LOG_FORMAT") or "text"
        if log_format not in ("text", "json"):
            raise SettingsError(f"FLYWHEEL_LOG_FORMAT must be text or json, not {log_format!r}")
        workers_text = env.get("FLYWHEEL_WORKERS", "8")
        if not workers_text.isdigit():
            raise SettingsError(f"FLYWHEEL_WORKERS must be a whole number, not {workers_text!r}")
        values: dict[str, object] = {
            "workers": int(workers_text),
            "github_timeout_seconds": _seconds(env, "FLYWHEEL_GITHUB_TIMEOUT", 10.0),
            "retry_base_seconds": _seconds(env, "FLYWHEEL_RETRY_BASE", 2.0),
            "retry_for_seconds": _hours(env, "FLYWHEEL_RETRY_HOURS", 24.0) * 3600,
            "retry_max_seconds": _seconds(env, "FLYWHEEL_RETRY_MAX", 900.0),
            "lease_seconds": _seconds(env, "FLYWHEEL_LEASE_SECONDS", 30.0),
            "app_id": app_id,
            "private_key": private_key,
            "webhook_secret": env.get("GITHUB_WEBHOOK_SECRET") or None,
            "dashboard_token": env.get("FLYWHEEL_DASHBOARD_TOKEN") or None,
            "log_format": log_format,
            "link_key_text": env.get("FLYWHEEL_LINK_KEY") or None,
            "embedding_model": env.get("FLYWHEEL_EMBEDDING_MODEL") or None,
            "public_url": env.get("FLYWHEEL_PUBLIC_URL") or None,
            "org": env.get("FLYWHEEL_ORG") or None,
            "api_url": env.get("GITHUB_API_URL") or DEFAULT_API_URL,
            "config_dir": Path(env["FLYWHEEL_CONFIG"])
            if env.get("FLYWHEEL_CONFIG")
            else default_config_dir(),
            **_database(_database_location(env)),
            "port": port,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def check_port(port: int, name: str) -> None:
    if not 1 <= port <= 65535:
        raise SettingsError(f"{name} must be a port number from 1 to 65535, not {port}")


def _check_credentials_pair(app_id: str | None, private_key: str | None) -> None:
    """Both or neither, a numeric id, a key that is a PEM private key: said at start, in one
    line that names the variable, rather than as a traceback on every delivery."""
    if app_id and not private_key:
        raise SettingsError(
            "GITHUB_APP_ID is set but GITHUB_PRIVATE_KEY (or GITHUB_PRIVATE_KEY_PATH) is not: "
            "set both for live mode, or neither for dry-run"
        )
    if private_key and not app_id:
        raise SettingsError(
            "GITHUB_PRIVATE_KEY is set but GITHUB_APP_ID is not: set both for live mode "
            "(the App's id is on its settings page), or neither for dry-run"
        )
    if app_id and not app_id.strip().isdigit():
        raise SettingsError(f"GITHUB_APP_ID must be the App's numeric id, not {app_id!r}")
    if private_key:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        try:
            load_pem_private_key(private_key.encode(), password=None)
        except (ValueError, TypeError) as exc:
            reason = str(exc).split("\n")[0][:120] or type(exc).__name__
            raise SettingsError(
                "GITHUB_PRIVATE_KEY (or the file at GITHUB_PRIVATE_KEY_PATH) is not the App's "
                f"PEM private key ({reason}): paste the whole .pem file GitHub gave you"
            ) from None


def _hours(env: Mapping[str, str], name: str, default: float) -> float:
    # GitHub keeps deliveries for 3 days: waiting longer could not be caught up by redelivery.
    return _amount(env, name, default, "hours", 72)


def _database_location(env: Mapping[str, str]) -> str:
    """FLYWHEEL_DB; else the ``DATABASE_URL`` a platform sets (Heroku, Render, Fly) when it
    names PostgreSQL, as a Procfile ``scale`` then finds its database; else ``flywheel.db``."""
    platform = env.get("DATABASE_URL") or ""
    return env.get("FLYWHEEL_DB") or (platform if is_postgres(platform) else "flywheel.db")


def _database(location: str) -> dict[str, object]:
    """A PostgreSQL URL is kept as it is: as a ``Path`` its ``//`` would collapse."""
    if is_postgres(location):
        return {"database_url": location}
    return {"db_path": Path(location)}


def without_password(url: str) -> str:
    """A database URL fit for a log line or a page: its password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    return _amount(env, name, default, "seconds", 3600)


def _amount(env: Mapping[str, str], name: str, default: float, unit: str, most: float) -> float:
    """A positive number of ``unit`` from the environment, at most ``most``; refused clearly."""
    text = env.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name} must be a number of {unit}, not {text!r}") from None
    if not 0 < value <= most:
        raise SettingsError(f"{name} must be between 0 and {most:g} {unit}, not {text!r}")
    return value
