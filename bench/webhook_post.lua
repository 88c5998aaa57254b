-- wrk script: POST a small JSON body to the bench webhook with the API key from the environment.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["St2-Api-Key"] = os.getenv("SQUALL_API_KEY")
wrk.body = '{"ref": "refs/heads/main", "repository": {"full_name": "acme/web"}}'
