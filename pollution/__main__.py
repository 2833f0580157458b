from pollution.cli import main

main()
