"""One way to write a moment everywhere staff and customers read one (admin lists and pages,
the tenant page, read-only fields): ISO-like, to the minute, in TIME_ZONE (UTC) —
"2026-12-06 22:01" — never "Dec. 6, 2026, 10:01 p.m." beside "2026-12-06T22:01:03.123456".
Input formats stay Django's (the admin's date picker writes Y-m-d)."""

DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i"
