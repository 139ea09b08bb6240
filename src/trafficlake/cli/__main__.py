from trafficlake.cli import program

if __name__ == "__main__":  # not when a worker process imports it (spawn, forkserver)
    program()
