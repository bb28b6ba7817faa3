"""The portal: UISE's web interface. An HTTP edge that owns no business data: it signs people in
through NCALayer and the identity service, then calls the other services' APIs with the person's
own token and renders server-side pages in Kazakh, Russian and English (docs/portal.md)."""
