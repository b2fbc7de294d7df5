"""Delivery: what the decisions chose to send, sent by e-mail over SMTP and as signed webhooks.

`worker` claims due rows of `deliveries` (written by the decision side), `email` and
`webhooks` send them, `repository` keeps the state, `policy` holds the pure rules (backoff,
rate limit, signature) and `templates` words the e-mails.
"""
