import { status as Status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { startGateway } from '../common';
import { askReflection } from './grpc-clients';

describe('server reflection', () => {
  it('is on by default: lists the services and serves the descriptor of the API', async () => {
    const gw = await startGateway();
    try {
      const list = await askReflection(gw.gateway.address, { list_services: '' });
      expect(list.ok, JSON.stringify(list)).to.equal(true);
      const names = list.ok ? list.value.list_services_response?.service.map((s) => s.name) : [];
      expect(names).to.have.members(['commitlog.v1.CommitLogService', 'grpc.health.v1.Health']);

      const file = await askReflection(gw.gateway.address, { file_containing_symbol: 'commitlog.v1.CommitLogService' });
      const descriptors = file.ok ? (file.value.file_descriptor_response?.file_descriptor_proto ?? []) : [];
      // The serialized FileDescriptorProto names the package, the service and its RPCs
      // (@grpc/reflection names the file after the package: commitlog_v1.proto).
      const text = Buffer.concat(descriptors).toString('latin1');
      for (const name of ['commitlog.v1', 'CommitLogService', 'CommitStream', 'CommitEvent'])
        expect(text).to.contain(name);
    } finally {
      await gw.close();
    }
  });

  it('is off with grpc.reflection: false (UNIMPLEMENTED)', async () => {
    const gw = await startGateway({ grpc: { reflection: false } });
    try {
      const list = await askReflection(gw.gateway.address, { list_services: '' });
      expect(list).to.include({ ok: false, code: Status.UNIMPLEMENTED });
    } finally {
      await gw.close();
    }
  });
});
