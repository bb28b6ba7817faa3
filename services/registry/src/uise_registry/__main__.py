from uise_registry.entrypoint import cli

cli()
