"""The multi-step invoicing request (ops): pricing, credit check, decision, activation.

`domain` holds the state machine, `credit_checks` how posted data merges, `crypto` how it is
sealed at rest, `handlers` and `credit_check_handlers` the use cases, `repository` the SQL,
`api` the internal HTTP routes. `repository.approved_terms_of_owner` is what the self-service
upgrade asks: the terms of an owner's latest approved request.
"""
