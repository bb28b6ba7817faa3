from uise_reporting.entrypoint import main

main()
