from uise_deadline.entrypoint import main

main()
