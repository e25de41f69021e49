"""The kinds of alert; ``subject`` makes an alert unique within its kind."""

DETRACTOR_ALERT = "detractor_mention"  # subject: the mention id
RESPONSE_ALERT = "detractor_response"  # subject: "response:<id>"
SPIKE_ALERT = "spike"  # subject: "spike:<brand>:<kind>:<hour>"
NEAR_MISSES_ALERT = "near_misses"  # the day's mentions just under the alert threshold: "near:<brand>:<day>"
NOTICE_ALERT = "notice"  # an operational notice, e.g. "x:x:budget:2026-11"; its text is written when queued
DIGEST_ALERT = "digest"  # the weekly digest, "digest:2026-W48"
ALERT_KINDS = (DETRACTOR_ALERT, RESPONSE_ALERT, SPIKE_ALERT, NEAR_MISSES_ALERT, NOTICE_ALERT, DIGEST_ALERT)
GROUPED_KINDS = (DETRACTOR_ALERT, RESPONSE_ALERT)  # about a person: grouped by author, counted against the cap
URGENT_KINDS = (SPIKE_ALERT, NOTICE_ALERT)  # delivered in quiet hours too
