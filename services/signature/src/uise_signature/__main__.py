from uise_signature.entrypoint import main

main()
