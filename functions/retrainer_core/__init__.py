"""Domain code shared by the Lambda handlers: events, run specs, naming, registry requests.

Layers: handlers (`*/app.py`) parse and delegate; the logic modules here take their AWS adapters
as arguments; only `aws.py` imports boto3.
"""
