from rcsqualify.cli import main

main()
