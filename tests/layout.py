"""The project's packages, as the layout tests walk them."""

# The Django apps (backend is the project that holds them).
APPS = ("accounts", "alerts", "cameratraps", "classifier", "community", "observations", "ranges", "species")
# What counts as application code: the apps, the project, ml/ and the phone-app client.
APP_PACKAGES = (*APPS, "backend", "ml", "mobile_client_stub")
