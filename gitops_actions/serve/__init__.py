"""serve: the PR-comment bot as a small web service.

``intake`` answers webhooks (after ``verify`` has checked them) within milliseconds and
records a job; ``store`` keeps deliveries seen, queued jobs and leases (SQLite, or Redis
for several replicas); ``worker`` runs jobs, one at a time per pull request and the newest
head first; ``run`` fetches, renders, validates and replies on the forge (``replies``).
"""
