from services.portal.app import SPEC
from shared.service import main

main(SPEC)
