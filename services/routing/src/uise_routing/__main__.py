from uise_routing.entrypoint import main

main()
