from uise_registry.entrypoint import main

main()
