.PHONY: up test bench lint

up:  ## install and start a single-node dev city at http://127.0.0.1:8080
	python3 -m pip install -e . && urbis up

test:  ## install the test extras and run the whole suite
	./scripts/test

bench:  ## print the performance figures
	python3 bench/throughput.py
	python3 bench/proofs.py
	python3 bench/payments.py
	python3 bench/contracts.py
	python3 bench/identity.py
	python3 bench/cometbft.py

lint:
	ruff check urbis tests bench && mypy
