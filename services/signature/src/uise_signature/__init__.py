"""Signature: CMS signatures over submitted documents, and the signer's authority (clause 8)."""
