"""The receipt intake returns: what was delivered, when (clause 10), to whom, signed with the
system's own Ed25519 key so a participant can verify it offline against the published key. The
signer and the `uise-receipt` tool live in uise_common.docsign (reporting signs reports with it)."""

from uise_common.docsign import ReceiptSigner, canonical, main, verify_receipt

__all__ = ["ReceiptSigner", "canonical", "main", "verify_receipt"]
