from uise_validation.entrypoint import main

main()
