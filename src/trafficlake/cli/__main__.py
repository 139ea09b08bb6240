from trafficlake.cli import main

main()
