"""Credentials for Redis that come from AWS: ElastiCache IAM tokens and Secrets Manager.

Both are redis-py ``CredentialProvider``s (the pattern of redis/redis-py#2676 / PR #2702):
redis-py asks for credentials on every new connection, never at import or build time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from redis.credentials import CredentialProvider

from hitcounter.core.errors import ConfigError


class RefreshableCredentials(CredentialProvider):
    """A provider whose cached credentials can be dropped after the server refused them."""

    def invalidate(self) -> None:
        raise NotImplementedError


class ElastiCacheIAMProvider(RefreshableCredentials):
    """SigV4-presigned ``connect`` tokens for ElastiCache IAM auth (Valkey 7.2+, Redis 7+).

    A token is valid 15 minutes; this mints a new one after ``refresh_after`` seconds (10 by
    default), so a connection is never opened with a token about to expire.
    """

    TOKEN_SECONDS = 900

    def __init__(
        self,
        user: str,
        cache_name: str,
        region: str,
        *,
        serverless: bool = True,
        refresh_after: float = 600,
        clock: Callable[[], float] = time.monotonic,
        session: Any = None,
    ) -> None:
        self.user = user
        self.cache_name = cache_name
        self.region = region
        self.serverless = serverless
        self.refresh_after = refresh_after
        self._clock = clock
        self._session = session
        self._token: str | None = None
        self._minted_at = 0.0
        self._lock = threading.Lock()
        self.minted = 0

    def _sign(self) -> str:
        import botocore.session
        from botocore.model import ServiceId
        from botocore.signers import RequestSigner

        session = self._session or botocore.session.get_session()
        credentials = session.get_credentials()
        if credentials is None:
            raise ConfigError("REDIS_AUTH=iam: no AWS credentials to sign the ElastiCache token with")
        signer = RequestSigner(
            ServiceId("elasticache"),
            self.region,
            "elasticache",
            "v4",
            credentials,
            session.get_component("event_emitter"),
        )
        query = {"Action": "connect", "User": self.user}
        if self.serverless:
            query["ResourceType"] = "ServerlessCache"
        request = {
            "method": "GET",
            "url": f"https://{self.cache_name}/?{urlencode(query)}",
            "body": {},
            "headers": {},
            "context": {},
        }
        url = signer.generate_presigned_url(
            request, operation_name="connect", expires_in=self.TOKEN_SECONDS, region_name=self.region
        )
        return str(url).removeprefix("https://")

    def get_credentials(self) -> tuple[str, str]:
        with self._lock:
            if self._token is None or self._clock() - self._minted_at >= self.refresh_after:
                self._token = self._sign()
                self._minted_at = self._clock()
                self.minted += 1
            return self.user, self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None


class SecretsManagerProvider(RefreshableCredentials):
    """An RBAC user's ``username`` and ``password`` from a Secrets Manager secret (JSON),
    through Powertools parameters (cached ``max_age`` seconds). After the server refuses
    them (rotation), the next connection fetches the secret again."""

    def __init__(self, secret_id: str, max_age: int = 300) -> None:
        self.secret_id = secret_id
        self.max_age = max_age
        self._stale = False

    def get_credentials(self) -> tuple[str, str]:
        from aws_lambda_powertools.utilities import parameters

        force = self._stale
        self._stale = False
        secret = parameters.get_secret(self.secret_id, transform="json", max_age=self.max_age, force_fetch=force)
        if not isinstance(secret, dict) or "password" not in secret:
            raise ConfigError("REDIS_SECRET_ID must hold JSON with a password (and a username)")
        return str(secret.get("username") or "default"), str(secret["password"])

    def invalidate(self) -> None:
        self._stale = True
