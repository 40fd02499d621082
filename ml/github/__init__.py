"""GitHub: the Actions environment (env), the one REST client (client), the results pull request
(`ml pull-request`) and the janitor that removes stale self-hosted runners."""
