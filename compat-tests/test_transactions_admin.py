"""kafka-transactions.sh's Admin calls (Java kafka-clients 4.3): listTransactions,
describeTransactions and describeProducers while a transaction is open, and after it commits."""


def test_kafka_transactions_tool_calls(broker, run_java):
    out = run_java("TxnAdmin", broker.bootstrap)
    assert out.strip().splitlines()[-1] == "OK", out
