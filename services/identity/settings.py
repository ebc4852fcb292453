from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator

from services.identity.domain.session_rules import RuleDefaults
from shared.settings import ServiceSettings

DEV_CODE_KEY = "dev-code-hmac-key-not-for-production-0001"


class IdentitySettings(ServiceSettings):
    holds_message_keys: ClassVar[bool] = True  # the codes and tokens notify emails: shared/sealed.py
    port: int = 8101
    # Keys for the one-time-code HMAC: "id:secret" pairs, the first signs new codes, all verify.
    code_hmac_keys: list[SecretStr] = Field(default_factory=lambda: [SecretStr(f"k1:{DEV_CODE_KEY}")])
    code_ttl_seconds: int = 600
    code_max_tries: int = 5
    codes_per_attempt: int = 5
    # The default session rule, for people whose LAs have set none (an LA's VS admin sets its own: session_rules.py).
    session_idle_seconds: int = 20 * 60
    session_warning_seconds: int = 2 * 60
    # Seconds in one minute of an LA's session rule: 60. Tests shrink it, so a 5-minute rule runs out in 5 seconds.
    session_rule_unit_seconds: int = Field(default=60, ge=1, le=60)
    # Ordinary requests restart the idle clock only when it was last restarted this long ago (or a twentieth of the
    # idle timeout, if less), so most requests only read. The price: a session may end up to this much before
    # session_idle_seconds of true idleness (never later). "Stay signed in" restarts it at once. The threshold is
    # taken per session, against that person's own idle timeout (store.py resolve_session).
    session_touch_seconds: int = 60
    session_absolute_seconds: int = 12 * 60 * 60
    # Progressive delay: free failures before delays start, then 1 s doubling, capped.
    throttle_free_failures_account: int = 5
    throttle_free_failures_address: int = 20
    throttle_max_delay_seconds: int = 15 * 60
    # ncsc (default): length, not common, not your name; kent: Kent's composition rules.
    password_policy: Literal["ncsc", "kent"] = "ncsc"
    password_min_length: int = 10
    password_resets_per_hour: int = 3
    invitation_days: int = 14

    @property
    def session_rule_defaults(self) -> RuleDefaults:
        return RuleDefaults(self.session_idle_seconds, self.session_warning_seconds, self.session_rule_unit_seconds)

    @model_validator(mode="after")
    def _keys(self) -> IdentitySettings:
        for key in self.code_hmac_keys:
            kid, _, secret = key.get_secret_value().partition(":")
            if not kid or len(secret) < 16:
                raise ValueError("EPEP_CODE_HMAC_KEYS entries must be 'id:secret' with a secret of 16+ characters")
        if not 0 < self.session_warning_seconds < self.session_idle_seconds:
            raise ValueError("EPEP_SESSION_WARNING_SECONDS must be more than 0 and less than "
                             "EPEP_SESSION_IDLE_SECONDS")
        if self.environment == "production" and self.session_rule_unit_seconds != 60:
            raise ValueError("EPEP_SESSION_RULE_UNIT_SECONDS is for tests: a minute is 60 seconds in production")
        if self.environment == "production" and any(DEV_CODE_KEY in k.get_secret_value() for k in self.code_hmac_keys):
            raise ValueError("EPEP_CODE_HMAC_KEYS must be set in production")
        return self
