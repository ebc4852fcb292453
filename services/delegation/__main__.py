from services.delegation.app import SPEC
from shared.service import main

main(SPEC)
