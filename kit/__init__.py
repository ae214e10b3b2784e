"""The ground floor every app may use: strict environment helpers (``kit.env``), the operator
command base (``kit.commands``) and the outcome of a bulk operation (``kit.outcomes``). It imports
no app of this project."""
