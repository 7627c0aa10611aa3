"""Demo apps for a new installation: on the first start (HOMEPORT_DEMO_APPS, on by default),
the apps in `homeport.demo` are applied as the bootstrap admin and published, so a new user
finds apps in the store and can try one without the CLI. They are ordinary apps: admins
unpublish or delete them like any other, and they are never seeded again.
"""

from __future__ import annotations

import logging
from importlib import resources

from homeport.apps.loading import load_documents, spec_with_files
from homeport.db.engine import Database
from homeport.db.repositories import UserRepository
from homeport.errors import HomeportError
from homeport.services.apps import AppService
from homeport.services.users import load_principal

log = logging.getLogger(__name__)

PACKAGE = "homeport.demo"
ADMIN = "admin"


async def seed_demo_apps(db: Database, apps: AppService) -> list[str]:
    """Apply and publish the demo apps as the admin; the names of those published. A demo
    that fails (an app name already taken, say) is logged and skipped."""
    async with db.transaction() as session:
        user = await UserRepository(session).by_name(ADMIN)
        admin = await load_principal(session, user) if user is not None else None
    if admin is None:
        return []
    published = []
    with resources.as_file(resources.files(PACKAGE)) as folder:
        for path in sorted(folder.glob("*.yaml")):
            for app in load_documents(path.read_text(), source=f"demo/{path.name}"):
                try:
                    await apps.apply(admin, app.name, spec_with_files(app, folder), label="demo")
                    await apps.publish(admin, app.name, True)
                except HomeportError as exc:
                    log.warning("demo app %s not added: %s", app.name, exc.message)
                    continue
                published.append(app.name)
    log.info("published the demo apps: %s", ", ".join(published) or "none")
    return published
