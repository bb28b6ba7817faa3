from uise_intake.entrypoint import main

main()
