"""portafunc's container target: the app as one HTTP service speaking plain HTTP and CloudEvents."""
