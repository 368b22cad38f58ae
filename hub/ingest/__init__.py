"""MQTT in: subscription, decoding into batches, ack after commit."""
