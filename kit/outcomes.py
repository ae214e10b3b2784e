"""What a bulk operation did, item by item, in the words staff read: one ``BulkOutcome`` is filled
by an admin action or a management command and summarised in one line, e.g.
"48 invitations sent, 3 skipped: already sent today"."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


def counted(n: int, one: str, many: str | None = None) -> str:
    """ "1 backup queued", "3 backups queued": ``one`` is the phrase for a single item, ``many``
    for any other count (default: ``one`` with an "s" on its first word)."""
    if n == 1:
        return f"1 {one}"
    if many is None:
        first, _, rest = one.partition(" ")
        many = f"{first}s {rest}".rstrip()
    return f"{n} {many}"


@dataclass
class BulkOutcome:
    """``done_label`` names what happened to the items that succeeded ("invitations sent");
    ``one`` is the same for a single item ("invitation sent")."""

    done_label: str
    done: list[str] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    failed: dict[str, str] = field(default_factory=dict)
    one: str = field(default="", kw_only=True)

    def ok(self, item: object) -> None:
        self.done.append(str(item))

    def skip(self, item: object, reason: str) -> None:
        self.skipped[reason].append(str(item))

    def fail(self, item: object, reason: str) -> None:
        self.failed[str(item)] = reason

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, 1 when some items failed (commands exit with it)."""
        return 1 if self.failed else 0

    def summary(self) -> str:
        """One line: "48 invitations sent, 3 skipped: already sent today, 1 failed"."""
        parts = [counted(len(self.done), self.one or self.done_label, self.done_label)]
        for reason, items in sorted(self.skipped.items(), key=lambda kv: -len(kv[1])):
            parts.append(f"{len(items)} skipped: {reason}")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        return ", ".join(parts)

    def rows(self) -> list[dict[str, str]]:
        """One row per item (for --format table|json|csv)."""
        rows = [{"item": item, "result": "done", "reason": ""} for item in self.done]
        for reason, items in self.skipped.items():
            rows.extend({"item": item, "result": "skipped", "reason": reason} for item in items)
        rows.extend(
            {"item": item, "result": "failed", "reason": reason}
            for item, reason in self.failed.items()
        )
        return rows
