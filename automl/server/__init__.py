"""`automl serve`: SageMaker's wire protocols over HTTP, so unmodified boto3 and aws CLI work with an endpoint URL.

    automl serve                                   # 127.0.0.1:8080; --host 0.0.0.0 to accept other machines
    boto3.client("sagemaker", endpoint_url="http://127.0.0.1:8080").list_auto_ml_jobs()
    boto3.client("sagemaker-runtime", endpoint_url="http://127.0.0.1:8080").invoke_endpoint(...)

`protocol` is the JSON 1.1 (control plane) and REST-JSON (runtime) encoding, `signing` the SigV4 check,
`models` the warm endpoint models, `app` the routes, `serve` the processes' event loop.
"""
