"""The stub scoring server the replay benches measure the client against: it is the capacity
run's (`staging/capacity/stub.py`), run here by path. Run: python bench/stub_server.py PORT [--sleep-ms 5]"""

from staging.capacity.stub import main

if __name__ == "__main__":
    main()
