"""City capabilities, one module each; `build_application` assembles the default set."""

from __future__ import annotations

from urbis.chain.app import Application
from urbis.chain.module import Module
from urbis.state.database import Database
from urbis.state.store import KEEP_VERSIONS_DEFAULT


def default_modules() -> list[Module]:
    from urbis.modules.accounts.module import module as accounts
    from urbis.modules.contracts.module import module as contracts
    from urbis.modules.documents.module import module as documents
    from urbis.modules.governance.module import module as governance
    from urbis.modules.identity.module import module as identity
    from urbis.modules.payments.module import module as payments

    return [accounts, governance, documents, payments, identity, contracts]


def build_application(db: Database, keep_versions: int = KEEP_VERSIONS_DEFAULT) -> Application:
    from urbis.modules.accounts.keeper import AccountsAuthenticator
    from urbis.modules.governance.keeper import GovernanceRoles

    return Application(
        db,
        default_modules(),
        authenticator=AccountsAuthenticator(),
        roles=GovernanceRoles(),
        keep_versions=keep_versions,
    )
