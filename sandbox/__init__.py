"""A local stand-in for auth.atlassian.com and api.atlassian.com (Jira Cloud REST v3).

Standalone on purpose: nothing here imports Django or the portal, so the same server can run
as a demo (`python -m sandbox`), inside a pytest session, or in a worker's subprocess.
"""

from sandbox.state import SandboxState

__all__ = ["SandboxState"]
