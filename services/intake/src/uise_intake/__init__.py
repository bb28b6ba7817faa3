"""Intake: the front door. Stores documents, receipts deliveries (clause 10), keeps timelines."""
