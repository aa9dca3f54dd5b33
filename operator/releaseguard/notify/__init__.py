"""Notifications: what the operator tells people about a run, and delivering it through apprise.

config.py   the cluster admin's channels, link templates and retry policy (a Secret's file)
message.py  pure: which events a run produced, and the message for each
deliver.py  the Notifier: deliveries off the event loop, retried with backoff
"""
